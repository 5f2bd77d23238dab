# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# A strict reader for the YAML subset that kubeadm configs, kubeconfigs and simple manifests use, and a
# small block-style writer. It reads: `---` multi-document streams, comments, block mappings and
# sequences (compact `- key: v` items, sequences at their key's indent), flow `[..]`/`{..}`,
# plain/single/double-quoted scalars (multi-line folding), and `|`/`>` block scalars. Anything else
# (anchors, aliases, tags, `?` keys, directives, merge keys, tabs in indentation, duplicate keys) is
# an error with its line: the stand-ins must never guess what a config means.
# Plain scalars that YAML 1.1 (what kubeadm's Go decoder follows) and YAML 1.2 (what most writers
# follow) read differently, like `yes`, `off` or `0755`, are rejected too: quote them.
"""Strict YAML-subset reader/writer for the kubeha stand-ins (stdlib only)."""

import json
import math
import re

__all__ = ["YamlError", "load_all", "load", "dump", "dump_all"]


class YamlError(ValueError):
    """A YAML input the stand-in reader does not accept, with file:line."""


_AMBIGUOUS_BOOL = {
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
    "on", "On", "ON", "off", "Off", "OFF",
}
_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SEXAGESIMAL_RE = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")


def _resolve_plain(text, where):
    """Type of a plain scalar under the YAML 1.2 core schema; YAML-1.1-ambiguous forms are errors."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text in _AMBIGUOUS_BOOL:
        raise YamlError(f"{where}: plain scalar {text!r} is a boolean in YAML 1.1 but a string in YAML 1.2; quote it")
    if _INT_RE.match(text):
        digits = text.lstrip("+-")
        if len(digits) > 1 and digits.startswith("0"):
            raise YamlError(f"{where}: plain scalar {text!r} is octal in YAML 1.1 but decimal in YAML 1.2; quote it")
        return int(text)
    if re.match(r"^0o[0-7]+$", text):
        raise YamlError(f"{where}: plain scalar {text!r} is an integer in YAML 1.2 but a string in YAML 1.1; quote it")
    if re.match(r"^0x[0-9a-fA-F]+$", text):
        return int(text, 16)
    if _FLOAT_RE.match(text):
        return float(text)
    if text in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"):
        return math.inf
    if text in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    if _SEXAGESIMAL_RE.match(text):
        raise YamlError(f"{where}: plain scalar {text!r} is a base-60 number in YAML 1.1; quote it")
    return text


_DQ_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}


def _unescape_double(s, where):
    out = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(s):
            raise YamlError(f"{where}: dangling backslash in double-quoted scalar")
        e = s[i + 1]
        if e in _DQ_ESCAPES:
            out.append(_DQ_ESCAPES[e])
            i += 2
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            hexpart = s[i + 2:i + 2 + n]
            if len(hexpart) != n or not re.match(r"^[0-9a-fA-F]+$", hexpart):
                raise YamlError(f"{where}: bad \\{e} escape in double-quoted scalar")
            out.append(chr(int(hexpart, 16)))
            i += 2 + n
        else:
            raise YamlError(f"{where}: unknown escape \\{e} in double-quoted scalar")
    return "".join(out)


def _fold_quoted_lines(lines):
    """Line folding of a multi-line flow scalar: breaks become spaces, empty lines newlines."""
    if len(lines) == 1:
        return lines[0]
    parts = [lines[0].rstrip(" \t")]
    empties = 0
    for k, raw in enumerate(lines[1:], start=1):
        last = k == len(lines) - 1
        text = raw.strip(" \t") if not last else raw.lstrip(" \t")
        if text == "" and not last:
            empties += 1
            continue
        if parts and parts[-1].endswith("\\\x00"):
            # escaped line break: join without any separator
            parts[-1] = parts[-1][:-2]
            sep = "\n" * empties
        else:
            sep = "\n" * empties if empties else " "
        parts.append(sep + text)
        empties = 0
    return "".join(parts)


class _Parser:
    def __init__(self, lines, first_line, source):
        self.lines = list(lines)
        self.first = first_line
        self.source = source
        self.i = 0
        for k, line in enumerate(self.lines):
            body = line.lstrip(" ")
            if body.startswith("\t") or (line[: len(line) - len(body)] and "\t" in line[: len(line) - len(body)]):
                if body.strip() != "":
                    raise YamlError(f"{self.where(k)}: tab character in indentation")

    def where(self, k=None):
        k = self.i if k is None else k
        return f"{self.source}:{self.first + k}"

    def fail(self, msg, k=None):
        raise YamlError(f"{self.where(k)}: {msg}")

    # -- helpers ------------------------------------------------------------------------------
    def eof(self):
        return self.i >= len(self.lines)

    @staticmethod
    def indent(line):
        return len(line) - len(line.lstrip(" "))

    @staticmethod
    def blank(line):
        s = line.strip()
        return s == "" or s.startswith("#")

    def skip_blank(self):
        while not self.eof() and self.blank(self.lines[self.i]):
            self.i += 1

    @staticmethod
    def is_seq_item(content):
        return content == "-" or content.startswith("- ")

    def split_key(self, content, k):
        """(key, column offset of the value) when `content` is a mapping key line, else None."""
        if not content:
            return None
        if content[0] in "\"'":
            value, end = self.quoted_on_line(content, 0, k)
            rest = content[end:]
            stripped = rest.lstrip(" ")
            if stripped.startswith(":") and (len(stripped) == 1 or stripped[1] == " "):
                return value, end + (len(rest) - len(stripped)) + 1
            return None
        m = re.search(r":( |$)", content)
        if not m:
            return None
        key = content[: m.start()]
        if " #" in key:
            return None
        if key.startswith("#"):
            return None
        key = key.rstrip(" ")
        if key == "":
            self.fail("empty mapping key", k)
        if key[0] in "[{":
            return None
        if key[0] in "&*!|>%@`?":
            self.fail(f"unsupported YAML feature in key {key!r} (anchors, aliases, tags, complex keys are not accepted)", k)
        if key == "<<":
            self.fail("merge keys (<<) are not accepted", k)
        return key, m.start() + 1

    def quoted_on_line(self, text, pos, k):
        """A quoted scalar that must close on this line: (value, index after the closing quote)."""
        q = text[pos]
        j = pos + 1
        while j < len(text):
            if q == '"' and text[j] == "\\":
                j += 2
                continue
            if text[j] == q:
                if q == "'" and j + 1 < len(text) and text[j + 1] == "'":
                    j += 2
                    continue
                raw = text[pos + 1:j]
                if q == '"':
                    return _unescape_double(raw, self.where(k)), j + 1
                return raw.replace("''", "'"), j + 1
            j += 1
        self.fail("unterminated quoted key", k)

    def check_trailer(self, rest, k, what):
        s = rest.strip(" \t")
        if s and not s.startswith("#"):
            self.fail(f"unexpected text {s!r} after {what}", k)
        if s.startswith("#") and rest and rest[0] not in " \t":
            self.fail(f"a comment must be separated from {what} by a space", k)

    # -- block structure ----------------------------------------------------------------------
    def parse_document(self):
        self.skip_blank()
        if self.eof():
            return None
        ind = self.indent(self.lines[self.i])
        node = self.parse_node_at(ind, -1)
        self.skip_blank()
        if not self.eof():
            self.fail("unexpected content (check the indentation)")
        return node

    def parse_block_value(self, parent):
        """The node on the following lines, more indented than `parent`; None when there is none."""
        self.skip_blank()
        if self.eof():
            return None
        ind = self.indent(self.lines[self.i])
        if ind <= parent:
            return None
        return self.parse_node_at(ind, parent)

    def parse_node_at(self, ind, parent):
        line = self.lines[self.i]
        content = line[ind:]
        if self.is_seq_item(content):
            return self.parse_seq(ind)
        if self.split_key(content, self.i) is not None:
            return self.parse_map(ind)
        return self.parse_inline(ind, parent)

    def parse_map(self, ind):
        result = {}
        while True:
            self.skip_blank()
            if self.eof():
                break
            line = self.lines[self.i]
            li = self.indent(line)
            if li < ind:
                break
            if li > ind:
                self.fail("unexpected indentation")
            content = line[ind:]
            if self.is_seq_item(content):
                self.fail("a sequence item where a mapping key was expected")
            kv = self.split_key(content, self.i)
            if kv is None:
                self.fail(f"expected a 'key: value' line, found {content.strip()!r}")
            key, off = kv
            if key in result:
                self.fail(f"duplicate mapping key {key!r}")
            col = ind + off
            rest = line[col:]
            stripped = rest.lstrip(" ")
            if stripped == "" or stripped.startswith("#"):
                if stripped.startswith("#") and rest == stripped:
                    self.fail("a comment must be separated by a space")
                self.i += 1
                self.skip_blank()
                if (not self.eof() and self.indent(self.lines[self.i]) == ind
                        and self.is_seq_item(self.lines[self.i][ind:])):
                    value = self.parse_seq(ind)
                else:
                    value = self.parse_block_value(ind)
            else:
                col += len(rest) - len(stripped)
                value = self.parse_inline(col, ind)
            result[key] = value
        return result

    def parse_seq(self, ind):
        items = []
        while True:
            self.skip_blank()
            if self.eof():
                break
            line = self.lines[self.i]
            li = self.indent(line)
            if li < ind:
                break
            if li > ind:
                self.fail("unexpected indentation in a sequence")
            content = line[ind:]
            if not self.is_seq_item(content):
                break
            rest = content[1:]
            stripped = rest.lstrip(" ")
            if stripped == "" or stripped.startswith("#"):
                self.i += 1
                items.append(self.parse_block_value(ind))
            else:
                col = ind + 1 + len(rest) - len(stripped)
                # The item's content starts at `col`: continue as if the dash were indentation,
                # which is exactly YAML's compact nested-node rule.
                self.lines[self.i] = " " * col + stripped
                items.append(self.parse_node_at(col, ind))
        return items

    # -- scalars and flow collections ---------------------------------------------------------
    def parse_inline(self, col, parent):
        """The value starting at column `col` of the current line; continuation lines must be
        indented more than `parent`. Leaves self.i on the line after the value."""
        k = self.i
        line = self.lines[k]
        s = line[col:]
        c = s[0]
        if c in "\"'":
            return self.parse_quoted(col, parent)
        if c in "[{":
            return self.parse_flow(col, parent)
        if c in "|>":
            return self.parse_block_scalar(col, parent)
        if c in "&*!%@`" or (c == "?" and (len(s) == 1 or s[1] == " ")):
            self.fail(f"unsupported YAML feature at {s.strip()!r} (anchors, aliases, tags, directives, complex keys)")
        if self.is_seq_item(s):
            self.fail("a block sequence cannot start on the same line as its key")
        return self.parse_plain(col, parent)

    def parse_plain(self, col, parent):
        k0 = self.i
        parts = []
        text, had_comment = self._plain_piece(self.lines[self.i][col:], self.i)
        parts.append(text)
        self.i += 1
        empties = 0
        while not self.eof():
            line = self.lines[self.i]
            if line.strip() == "":
                empties += 1
                self.i += 1
                continue
            if self.indent(line) <= parent or line.strip().startswith("#"):
                break
            if had_comment:
                self.fail("a plain scalar cannot continue after a comment")
            piece, had_comment = self._plain_piece(line.strip(" "), self.i)
            parts.append(("\n" * empties if empties else " ") + piece)
            empties = 0
            self.i += 1
        text = "".join(parts)
        if len(parts) > 1:
            return text  # multi-line plain scalars are always strings
        return _resolve_plain(text, self.where(k0))

    def _plain_piece(self, s, k):
        had_comment = False
        m = re.search(r"[ \t]#", s)
        if m:
            s = s[: m.start()]
            had_comment = True
        s = s.rstrip(" \t")
        if re.search(r": |:$", s) or s.endswith(":"):
            self.fail(f"mapping values are not allowed here ({s!r}); quote the value if it is a string", k)
        return s, had_comment

    def parse_quoted(self, col, parent):
        k0 = self.i
        q = self.lines[self.i][col]
        raw_lines = []
        j = col + 1
        k = self.i
        buf = []
        while True:
            line = self.lines[k]
            closed_at = None
            while j < len(line):
                ch = line[j]
                if q == '"' and ch == "\\":
                    if j + 1 >= len(line):
                        buf.append("\\\x00")  # escaped line break
                        j += 1
                        continue
                    buf.append(line[j:j + 2])
                    j += 2
                    continue
                if ch == q:
                    if q == "'" and j + 1 < len(line) and line[j + 1] == "'":
                        buf.append("''")
                        j += 2
                        continue
                    closed_at = j
                    break
                buf.append(ch)
                j += 1
            raw_lines.append("".join(buf))
            buf = []
            if closed_at is not None:
                self.check_trailer(line[closed_at + 1:], k, "a quoted scalar")
                break
            k += 1
            if k >= len(self.lines):
                self.fail("unterminated quoted scalar", k0)
            nxt = self.lines[k]
            if nxt.strip() != "" and self.indent(nxt) <= parent:
                self.fail("quoted scalar continues at too small an indentation", k)
            j = 0
        self.i = k + 1
        text = _fold_quoted_lines(raw_lines)
        if q == '"':
            return _unescape_double(text.replace("\\\x00", ""), self.where(k0))
        return text.replace("''", "'")

    def parse_block_scalar(self, col, parent):
        k0 = self.i
        header = self.lines[self.i][col:]
        m = re.match(r"^([|>])([+-]?)([1-9]?)([+-]?)(.*)$", header)
        if not m or (m.group(2) and m.group(4)):
            self.fail(f"bad block scalar header {header!r}")
        style, chomp, digit = m.group(1), m.group(2) or m.group(4), m.group(3)
        self.check_trailer(m.group(5), k0, "a block scalar header")
        self.i += 1
        start = self.i
        if digit:
            content_indent = max(parent, 0) + int(digit)
        else:
            content_indent = None
            lead_max = 0
            k = start
            while k < len(self.lines):
                line = self.lines[k]
                if line.strip(" ") == "":
                    lead_max = max(lead_max, len(line))
                    k += 1
                    continue
                content_indent = self.indent(line)
                break
            if content_indent is None or content_indent <= parent:
                content_indent = parent + 1 if content_indent is None else None
            if content_indent is None:
                # no content: an empty scalar
                content_indent = parent + 1
            elif lead_max > content_indent:
                self.fail("leading empty lines of a block scalar are more indented than its text", start)
        body = []
        while not self.eof():
            line = self.lines[self.i]
            if line.strip(" ") == "":
                body.append("")
                self.i += 1
                continue
            if self.indent(line) < content_indent:
                break
            body.append(line[content_indent:])
            self.i += 1
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        # the lines we consumed as trailing empties may also be followed by more document; fine
        if style == "|":
            text = "\n".join(body)
        else:
            text = self._fold_block(body)
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" + "\n" * trailing if body else "\n" * trailing
        return text + "\n" if body else ""

    @staticmethod
    def _fold_block(body):
        out = []
        prev_kind = None
        empties = 0
        for line in body:
            if line == "":
                empties += 1
                continue
            kind = "more" if line[0] in " \t" else "normal"
            if prev_kind is None:
                out.append("\n" * empties)
            elif prev_kind == "normal" and kind == "normal":
                out.append("\n" * empties if empties else " ")
            else:
                out.append("\n" * (empties + 1))
            out.append(line)
            prev_kind = kind
            empties = 0
        return "".join(out)

    def parse_flow(self, col, parent):
        k0 = self.i
        # Gather the text up to the matching bracket, across lines, dropping comments.
        text = []
        depth = 0
        quote = None
        k = self.i
        j = col
        done_at = None
        while done_at is None:
            line = self.lines[k]
            while j < len(line):
                ch = line[j]
                if quote:
                    if quote == '"' and ch == "\\":
                        text.append(line[j:j + 2])
                        j += 2
                        continue
                    if ch == quote:
                        if quote == "'" and j + 1 < len(line) and line[j + 1] == "'":
                            text.append("''")
                            j += 2
                            continue
                        quote = None
                    text.append(ch)
                    j += 1
                    continue
                if ch == "#" and (j == 0 or line[j - 1] in " \t"):
                    break
                if ch in "\"'":
                    quote = ch
                elif ch in "[{":
                    depth += 1
                elif ch in "]}":
                    depth -= 1
                    if depth == 0:
                        text.append(ch)
                        done_at = j + 1
                        break
                text.append(ch)
                j += 1
            if done_at is not None:
                self.check_trailer(line[done_at:], k, "a flow collection")
                break
            if quote:
                self.fail("quoted scalars inside flow collections must not span lines", k)
            k += 1
            if k >= len(self.lines):
                self.fail("unterminated flow collection", k0)
            nxt = self.lines[k]
            if nxt.strip() != "" and not nxt.strip().startswith("#") and self.indent(nxt) <= parent:
                self.fail("flow collection continues at too small an indentation", k)
            text.append(" ")
            j = 0
        self.i = k + 1
        flow = _FlowParser("".join(text), self.where(k0))
        value = flow.value()
        flow.ws()
        if flow.pos != len(flow.s):
            flow.fail("unexpected text after the flow collection")
        return value


class _FlowParser:
    def __init__(self, s, where):
        self.s = s
        self.pos = 0
        self.where_ = where

    def fail(self, msg):
        raise YamlError(f"{self.where_}: {msg} (in flow collection at offset {self.pos})")

    def ws(self):
        while self.pos < len(self.s) and self.s[self.pos] in " \t":
            self.pos += 1

    def peek(self):
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def value(self):
        self.ws()
        c = self.peek()
        if c == "[":
            return self.seq()
        if c == "{":
            return self.map()
        if c in "\"'":
            return self.quoted()
        if c == "" or c in ",]}":
            self.fail("missing value")
        if c in "&*!|>%@`?":
            self.fail(f"unsupported YAML feature {c!r}")
        return _resolve_plain(self.plain(), self.where_)

    def plain(self):
        start = self.pos
        while self.pos < len(self.s):
            c = self.s[self.pos]
            if c in ",[]{}":
                break
            if c == ":" and (self.pos + 1 >= len(self.s) or self.s[self.pos + 1] in " ,]}"):
                break
            self.pos += 1
        return self.s[start:self.pos].strip(" \t")

    def quoted(self):
        q = self.s[self.pos]
        j = self.pos + 1
        while j < len(self.s):
            if q == '"' and self.s[j] == "\\":
                j += 2
                continue
            if self.s[j] == q:
                if q == "'" and j + 1 < len(self.s) and self.s[j + 1] == "'":
                    j += 2
                    continue
                raw = self.s[self.pos + 1:j]
                self.pos = j + 1
                if q == '"':
                    return _unescape_double(raw, self.where_)
                return raw.replace("''", "'")
            j += 1
        self.fail("unterminated quoted scalar")

    def seq(self):
        self.pos += 1
        out = []
        while True:
            self.ws()
            if self.peek() == "]":
                self.pos += 1
                return out
            out.append(self.value())
            self.ws()
            if self.peek() == ":":
                self.fail("single-pair mappings inside a flow sequence are not accepted")
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                continue
            self.fail("expected ',' or ']'")

    def map(self):
        self.pos += 1
        out = {}
        while True:
            self.ws()
            if self.peek() == "}":
                self.pos += 1
                return out
            c = self.peek()
            if c in "\"'":
                key = self.quoted()
            elif c in "[{&*!?":
                self.fail("unsupported flow mapping key")
            else:
                key = self.plain()
                if key == "":
                    self.fail("empty flow mapping key")
            self.ws()
            if self.peek() != ":":
                self.fail(f"expected ':' after key {key!r}")
            self.pos += 1
            if key in out:
                self.fail(f"duplicate mapping key {key!r}")
            self.ws()
            out[key] = None if self.peek() in (",", "}") else self.value()
            self.ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "}":
                continue
            self.fail("expected ',' or '}'")


def load_all(text, source="<input>"):
    """Every document of a `---`-separated stream, as dict/list/str/int/float/bool/None."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise YamlError(f"{source}: bare carriage return in input")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    docs = []
    current = []
    start = 1
    seen_marker = False
    for n, line in enumerate(lines, start=1):
        if line.startswith("%"):
            raise YamlError(f"{source}:{n}: YAML directives are not accepted")
        if line == "---" or line.startswith("--- ") or line.startswith("---\t"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise YamlError(f"{source}:{n}: content on the '---' line is not accepted; start it on the next line")
            if current or seen_marker:
                docs.append((start, current))
            current = []
            start = n + 1
            seen_marker = True
            continue
        if line == "..." or line.startswith("... "):
            docs.append((start, current))
            current = []
            start = n + 1
            seen_marker = False
            continue
        current.append(line)
    if current and any(not _Parser.blank(l) for l in current):
        docs.append((start, current))
    elif seen_marker and not current:
        docs.append((start, current))
    out = []
    for first, body in docs:
        if not any(not _Parser.blank(l) for l in body):
            # an empty document between markers is null; kubeadm skips them, so do we
            continue
        out.append(_Parser(body, first, source).parse_document())
    return out


def load(text, source="<input>"):
    """Exactly one document."""
    docs = load_all(text, source)
    if len(docs) != 1:
        raise YamlError(f"{source}: expected exactly one YAML document, found {len(docs)}")
    return docs[0]


_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:@=+,() -]*$")


def _dump_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        if _PLAIN_SAFE.match(v) and not v.endswith(" ") and ": " not in v and " #" not in v and not v.endswith(":"):
            try:
                if _resolve_plain(v, "") == v:
                    return v
            except YamlError:
                pass
        return json.dumps(v)
    raise TypeError(f"cannot write {type(v).__name__} as YAML")


def _dump(v, indent, out):
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            out.append(pad + "{}")
            return
        for key, val in v.items():
            k = _dump_scalar(str(key))
            if isinstance(val, (dict, list)) and val:
                out.append(f"{pad}{k}:")
                _dump(val, indent + (2 if isinstance(val, dict) else 0), out)
            else:
                out.append(f"{pad}{k}: {_inline(val)}")
    elif isinstance(v, list):
        if not v:
            out.append(pad + "[]")
            return
        for item in v:
            if isinstance(item, (dict, list)) and item:
                sub = []
                _dump(item, indent + 2, sub)
                first = sub[0]
                sub[0] = pad + "- " + first[indent + 2:]
                out.extend(sub)
            else:
                out.append(f"{pad}- {_inline(item)}")
    else:
        out.append(pad + _dump_scalar(v))


def _inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _dump_scalar(v)


def dump(obj):
    """Block-style YAML that load() reads back to an equal value (stable key order)."""
    out = []
    _dump(obj, 0, out)
    return "\n".join(out) + "\n"


def dump_all(objs):
    return "---\n".join(dump(o) for o in objs)
