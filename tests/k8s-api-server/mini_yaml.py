# A small YAML reader for the block-style YAML that controller-gen and kubectl write
# (CustomResourceDefinition files): block mappings and sequences, plain / quoted / literal
# (|) / folded (>) scalars, multi-line plain scalars, flow collections on one logical line,
# comments and `---` document separators. Scalars resolve as YAML 1.1 does (PyYAML's
# safe_load and sigs.k8s.io/yaml agree on these files). No anchors, tags or merge keys.
# The standard library has no YAML parser; the server must stay stdlib-only.

import re


class YAMLError(ValueError):
    pass


_INT_RE = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT_RE = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$")
_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def resolve_plain(s):
    """The value of a plain (unquoted) scalar."""
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    low = s.lower()
    if low in _BOOLS and s in (low, low.capitalize(), low.upper()):
        return _BOOLS[low]
    if _INT_RE.match(s):
        return int(s.replace("_", ""))
    if re.match(r"^[-+]?0x[0-9a-fA-F_]+$", s):
        return int(s.replace("_", ""), 16)
    if _FLOAT_RE.match(s) and s not in (".", "+.", "-."):
        return float(s.replace("_", ""))
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    if low == ".nan":
        return float("nan")
    return s


def _strip_comment(text):
    """Drops a trailing `# comment` that is outside quotes."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
            continue
        if c in "'\"" and (i == 0 or text[i - 1] in " \t[{,:"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029"}
_HEX = {"x": 2, "u": 4, "U": 8}


def _fold(lines):
    """Line folding of a multi-line flow scalar: one break -> space, n breaks -> n-1 newlines."""
    out = lines[0].rstrip(" \t") if len(lines) > 1 else lines[0]
    empty = 0
    for k, ln in enumerate(lines[1:], 1):
        ln = ln.strip(" \t") if k < len(lines) - 1 else ln.lstrip(" \t")
        if not ln and k < len(lines) - 1:
            empty += 1
            continue
        out += ("\n" * empty) if empty else " "
        out += ln
        empty = 0
    return out


def _unquote(s):
    """A complete single- or double-quoted scalar (possibly spanning lines) -> its string."""
    if s[0] == "'":
        return _fold(s[1:-1].split("\n")).replace("''", "'")
    body = s[1:-1]
    # an escaped line break joins the lines without a space
    body = re.sub(r"\\\n[ \t]*", "", body)
    # fold real line breaks first (escapes such as \n must survive the folding)
    body = _fold(body.split("\n"))
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _HEX:
            n = _HEX[e]
            try:
                out.append(chr(int(body[i + 2:i + 2 + n], 16)))
            except ValueError:
                raise YAMLError("bad escape in double-quoted scalar: %s" % s)
            i += 2 + n
        elif e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        else:
            raise YAMLError("bad escape \\%s in double-quoted scalar" % e)
    return "".join(out)


def _quoted_end(s, start):
    """Index just past the quoted scalar that starts at s[start]."""
    q = s[start]
    i = start + 1
    while i < len(s):
        if q == '"' and s[i] == "\\":
            i += 2
            continue
        if s[i] == q:
            if q == "'" and i + 1 < len(s) and s[i + 1] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    raise YAMLError("unterminated quoted scalar: %s" % s)


class _Flow:
    """Flow collections ({a: b, c: [d]}) written on one logical line."""

    def __init__(self, s):
        self.s, self.i = s, 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def node(self):
        self.ws()
        c = self.s[self.i] if self.i < len(self.s) else ""
        if c == "{":
            self.i += 1
            out = {}
            while True:
                self.ws()
                if self.s[self.i] == "}":
                    self.i += 1
                    return out
                k = self.scalar(":,}")
                self.ws()
                v = None
                if self.s[self.i] == ":":
                    self.i += 1
                    v = self.node()
                out[k] = v
                self.ws()
                if self.s[self.i] == ",":
                    self.i += 1
        if c == "[":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.s[self.i] == "]":
                    self.i += 1
                    return out
                out.append(self.node())
                self.ws()
                if self.s[self.i] == ",":
                    self.i += 1
        return self.scalar(",]}")

    def scalar(self, stops):
        self.ws()
        if self.s[self.i] in "'\"":
            end = _quoted_end(self.s, self.i)
            v = _unquote(self.s[self.i:end])
            self.i = end
            return v
        j = self.i
        while j < len(self.s) and self.s[j] not in stops:
            if self.s[j] == ":" and ":" in stops and (j + 1 >= len(self.s) or self.s[j + 1] in " ,}]"):
                break
            j += 1
        v = resolve_plain(self.s[self.i:j].strip())
        self.i = j
        return v


def _flow(s):
    try:
        f = _Flow(s)
        v = f.node()
        f.ws()
    except IndexError:
        raise YAMLError("unterminated flow collection: %s" % s)
    if f.i != len(s):
        raise YAMLError("unexpected text after flow collection: %s" % s)
    return v


class _Lines:
    def __init__(self, text):
        self.raw = text.split("\n")
        self.i = 0

    @staticmethod
    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def significant(self):
        """Skips blank and comment-only lines; returns (indent, text) or None at the end."""
        while self.i < len(self.raw):
            line = self.raw[self.i]
            text = _strip_comment(line)
            if text.strip():
                return self.indent(text), text.strip()
            self.i += 1
        return None


def _split_key(text):
    """'key: rest' -> (key, rest); None when the line is not a mapping entry."""
    if text[0] in "'\"":
        end = _quoted_end(text, 0)
        rest = text[end:].lstrip()
        if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
            return _unquote(text[:end]), rest[1:].strip()
        return None
    if text.startswith(("- ", "? ")) or text == "-":
        return None
    m = re.search(r":(\s|$)", text)
    if not m:
        return None
    key = text[:m.start()].strip()
    if not key or key[0] in "[{":
        return None
    return key, text[m.end():].strip()


class _Parser:
    def __init__(self, text):
        self.L = _Lines(text)

    def node(self, min_indent):
        nxt = self.L.significant()
        if nxt is None or nxt[0] < min_indent:
            return None
        ind, text = nxt
        if text == "-" or text.startswith("- "):
            return self.sequence(ind)
        if _split_key(text) is not None:
            return self.mapping(ind)
        self.L.i += 1
        return self.inline_value(text, ind - 1)

    def mapping(self, ind):
        out = {}
        while True:
            nxt = self.L.significant()
            if nxt is None or nxt[0] != ind:
                return out
            kv = _split_key(nxt[1])
            if kv is None:
                if nxt[1] == "-" or nxt[1].startswith("- "):
                    return out
                raise YAMLError("line %d: expected a mapping entry: %s" % (self.L.i + 1, nxt[1]))
            key, rest = kv
            key = resolve_plain(key) if isinstance(key, str) and nxt[1][0] not in "'\"" else key
            self.L.i += 1
            if rest:
                out[key] = self.inline_value(rest, ind)
            else:
                after = self.L.significant()
                if after is not None and after[0] == ind and (after[1] == "-" or after[1].startswith("- ")):
                    out[key] = self.sequence(ind)
                else:
                    out[key] = self.node(ind + 1)

    def sequence(self, ind):
        out = []
        while True:
            nxt = self.L.significant()
            if nxt is None or nxt[0] != ind or not (nxt[1] == "-" or nxt[1].startswith("- ")):
                return out
            rest = nxt[1][1:]
            body = rest.lstrip(" ")
            if not body:
                self.L.i += 1
                out.append(self.node(ind + 1))
                continue
            col = ind + 1 + (len(rest) - len(body))
            # the item starts on the dash line: re-read that line as if it began at `col`
            raw = self.L.raw[self.L.i]
            self.L.raw[self.L.i] = " " * col + raw.lstrip(" ")[1:].lstrip(" ")
            out.append(self.node(col))

    def inline_value(self, rest, ind):
        """The value after `key:` (or a lone scalar line) whose entry sits at indent `ind`."""
        if rest[0] in "|>":
            return self.block_scalar(rest, ind)
        if rest[0] in "[{":
            text = rest
            while True:
                try:
                    return _flow(text)
                except YAMLError:
                    nxt = self.L.significant()
                    if nxt is None or nxt[0] <= ind:
                        raise
                    text += " " + nxt[1]
                    self.L.i += 1
        if rest[0] in "'\"":
            text = rest
            while True:
                try:
                    end = _quoted_end(text, 0)
                    break
                except YAMLError:
                    if self.L.i >= len(self.L.raw):
                        raise
                    text += "\n" + self.L.raw[self.L.i]
                    self.L.i += 1
            if text[end:].strip():
                raise YAMLError("unexpected text after quoted scalar: %s" % text)
            return _unquote(text[:end])
        # plain scalar, possibly continued on more-indented lines
        parts = [rest]
        while self.L.i < len(self.L.raw):
            line = self.L.raw[self.L.i]
            if not line.strip():
                j = self.L.i
                while j < len(self.L.raw) and not self.L.raw[j].strip():
                    j += 1
                if j < len(self.L.raw) and _Lines.indent(self.L.raw[j]) > ind:
                    parts.append("\n" * (j - self.L.i))
                    self.L.i = j
                    continue
                break
            text = _strip_comment(line)
            if _Lines.indent(line) <= ind or not text.strip():
                break
            parts.append(text.strip())
            self.L.i += 1
        out = ""
        for p in parts:
            if p.startswith("\n"):
                out += p
            elif out and not out.endswith("\n"):
                out += " " + p
            else:
                out += p
        return resolve_plain(out)

    def block_scalar(self, header, ind):
        m = re.match(r"^([|>])([-+]?)([1-9]?)([-+]?)\s*$", _strip_comment(header))
        if not m:
            raise YAMLError("bad block scalar header: %s" % header)
        style, chomp = m.group(1), m.group(2) or m.group(4)
        explicit = int(m.group(3)) if m.group(3) else 0
        lines = []
        block_ind = ind + explicit if explicit else None
        while self.L.i < len(self.L.raw):
            line = self.L.raw[self.L.i]
            if line.strip():
                li = _Lines.indent(line)
                if block_ind is None:
                    if li <= ind:
                        break
                    block_ind = li
                if li < block_ind:
                    break
                lines.append(line[block_ind:])
            else:
                lines.append("")
            self.L.i += 1
        while lines and lines[-1] == "" and chomp != "+":
            lines.pop()
        if style == "|":
            text = "\n".join(lines)
        else:
            text, prev = "", None
            for ln in lines:
                if prev is None:
                    text = ln
                elif ln == "":
                    text += "\n"
                elif prev == "":
                    text += ln
                elif ln.startswith(" ") or prev.startswith(" "):
                    text += "\n" + ln
                else:
                    text += " " + ln
                prev = ln
        if chomp == "-" or not lines:
            return text
        return text + "\n"


def load_all(text):
    """All documents of a YAML stream (empty documents are None)."""
    docs, cur = [], []
    for line in text.split("\n"):
        if line.rstrip() == "---" or line.startswith("--- "):
            docs.append("\n".join(cur))
            cur = [line[4:]] if line.startswith("--- ") else []
        elif line.rstrip() == "...":
            docs.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    docs.append("\n".join(cur))
    out = []
    for d in docs:
        p = _Parser(d)
        v = p.node(0)
        if p.L.significant() is not None:
            raise YAMLError("line %d: unexpected indentation: %s" % (p.L.i + 1, p.L.raw[p.L.i]))
        out.append(v)
    # a stream that starts with `---` has no document before it
    while out and out[0] is None and len(out) > 1:
        out.pop(0)
    return out


def load(text):
    docs = [d for d in load_all(text) if d is not None]
    if len(docs) > 1:
        raise YAMLError("expected one document, found %d" % len(docs))
    return docs[0] if docs else None
