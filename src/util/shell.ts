/** Shell quoting, in one place: apply's remote commands and install.sh quote the same way. */

/** Quotes one word for POSIX sh (left bare when it holds only characters that need no quoting). */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
