/**
 * Taking hosts out of a cluster file's text (pure), for `kubeha node remove`: which lines hold
 * each host's entry, and the text without them. The yaml package's Document API edits the parsed
 * document, so every comment and the layout of everything else stay as the user wrote them.
 */
import { isMap, isScalar, isSeq, type YAMLSeq } from "yaml";
import { readYaml } from "./yaml.ts";
import type { Host } from "./model.ts";
import type { HostFile } from "./file.ts";

export interface HostEntryLines {
  name: string;
  /** 1-based, inclusive: the entry's lines (its `- name:` line to its last field). */
  from: number;
  to: number;
}

function hostsSeq(text: string) {
  const { doc, lc, problems } = readYaml(text);
  if (problems.some((p) => p.severity === "error")) throw new Error(`the cluster file does not parse: ${problems[0]!.message}`);
  const seq = doc.getIn(["spec", "hosts"], true);
  if (!isSeq(seq)) throw new Error("the cluster file has no spec.hosts list");
  return { doc, lc, seq: seq as YAMLSeq };
}

const nameOf = (item: unknown): string | undefined => {
  if (!isMap(item)) return undefined;
  const n = item.get("name", true);
  return isScalar(n) && typeof n.value === "string" ? n.value : undefined;
};

/** The lines of each named host's entry in `text` (hosts not in the file are left out). */
export function hostEntryLines(text: string, names: readonly string[]): HostEntryLines[] {
  const { lc, seq } = hostsSeq(text);
  const out: HostEntryLines[] = [];
  for (const item of seq.items) {
    const name = nameOf(item);
    if (!name || !names.includes(name) || !isMap(item) || !item.range) continue;
    const [start, , end] = item.range;
    // The range ends after the entry's last line break: its last character is on the line before.
    out.push({ name, from: lc.linePos(start).line, to: lc.linePos(Math.max(start, end - 1)).line });
  }
  return out;
}

/** `text` without the named hosts' entries; comments and layout elsewhere are kept. */
export function removeHostsFromText(text: string, names: readonly string[]): string {
  const { doc, seq } = hostsSeq(text);
  seq.items = seq.items.filter((item) => !names.includes(nameOf(item) ?? ""));
  return doc.toString();
}

/** A recorded host as a cluster-file host entry (what `normalize` reads), to plan with a host that left the file. */
export function hostEntryOf(h: Omit<Host, "lbIndex">): HostFile {
  return {
    name: h.name,
    address: h.address,
    internalAddress: h.internalAddress,
    roles: [...h.roles],
    ssh: { ...h.ssh },
    interface: h.interface,
    labels: { ...h.labels },
    ...(h.taints ? { taints: [...h.taints] } : {}),
  };
}
