#!/usr/bin/env python3
"""Convert a pyx12 XML map into an ncx12 guide table (format: x12-core/src/schema/FORMAT.md).

pyx12 (https://github.com/azoner/pyx12, BSD-style licence) ships one XML map per
implementation guide under pyx12/map/. The maps name each element only by its data
element reference number; its type and lengths come from pyx12's dataele.xml, and
external code sets (valid_codes external="...") are defined in codes.xml.

    python3 from-pyx12.py --map .../pyx12/map/837.5010.X222.A1.xml --id 837P \\
        --version 005010X222A1 --transaction 837 HC \\
        --alias 005010X222 --alias 005010X222A2 > 837p.guide

`--check` converts, then reads the result back as text and compares it with the map:
loops, segments, elements (simple, composite, component) and syntax rules, counted and
in document order; indentation (two spaces a level, legal nesting) and element
positions (increasing within each segment and composite). `--check FILE` checks FILE
(a guide written earlier) instead of the fresh conversion. Exit status 1 on a mismatch.

Python 3 standard library only.
"""
import argparse
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

# pyx12's wrapper loops: the interchange and group envelopes and the transaction set's
# tables. Our body is the content of ST_LOOP (ST through SE) with the table wrappers
# flattened away.
WRAPPERS = ("HEADER", "DETAIL", "FOOTER")

# pyx12 external code set id -> our code set name (FORMAT.md: {states}, {zip}, ...).
# Checked in order against the lower-cased pyx12 id; names not matched are kept.
EXTERNAL = [
    (re.compile(r"^states?$|^state_"), "states"),
    (re.compile(r"zip|postal"), "zip"),
    (re.compile(r"icd|diag"), "icd10cm"),
    (re.compile(r"hcpcs|cpt|procedure"), "hcpcs"),
    (re.compile(r"^pos$|place_of_service"), "pos"),
    (re.compile(r"taxonomy"), "taxonomy"),
]

# regexes pyx12 puts on an element, as the code set name our engine checks them with
REGEX = [(re.compile(r"\[0-9\]\{(\d+)\}"), lambda m: "digits" + m.group(1))]

RULE = re.compile(r"^[PRCEL](\d\d){2,}$")


def text(e, tag, default=""):
    c = e.find(tag)
    if c is None or c.text is None:
        return default
    return c.text.strip()


def quote(s):
    return '"' + " ".join(s.replace('"', "'").split()) + '"'


def seq_of(e, where):
    s = text(e, "seq")
    if not s.isdigit() or not 1 <= int(s) <= 99:
        raise SystemExit(f"{where}: element position {s!r} is not 01..99")
    return int(s)


def external_name(pyx12_id):
    low = pyx12_id.lower()
    for rx, ours in EXTERNAL:
        if rx.search(low):
            return ours
    return pyx12_id


def repeat_word(r, where):
    """pyx12 repeat / max_use -> our maximum: a positive number or >1."""
    if r == ">1":
        return ">1"
    if r.isdigit() and int(r) > 0:
        return str(int(r))
    raise SystemExit(f"{where}: maximum {r!r} is neither a positive number nor >1")


def find_st_loop(root):
    for l in root.iter("loop"):
        if l.get("xid") == "ST_LOOP":
            return l
    raise SystemExit("no ST_LOOP in the map")


def body_nodes(node):
    """Children of a loop in order, with the table wrappers spliced in place."""
    for c in node:
        if c.tag == "loop" and c.get("xid") in WRAPPERS:
            yield from body_nodes(c)
        elif c.tag in ("loop", "segment"):
            yield c


def fields(seg):
    """A segment's elements and composites, in position order (checked unique)."""
    kids = [c for c in seg if c.tag in ("element", "composite")]
    kids.sort(key=lambda c: seq_of(c, seg.get("xid")))
    seen = [seq_of(c, seg.get("xid")) for c in kids]
    if len(seen) != len(set(seen)):
        raise SystemExit(f"segment {seg.get('xid')}: duplicate element positions {seen}")
    return kids


class Converter:
    def __init__(self, dataele, codes, overrides, version_codes):
        self.de = {}
        for d in ET.parse(dataele).getroot():
            if d.get("ele_num"):
                self.de[d.get("ele_num")] = (d.get("data_type"), int(d.get("min_len")), int(d.get("max_len")))
        for o in overrides:
            m = re.fullmatch(r"(\w+)=(\w+):(\d+)-(\d+)", o)
            if not m:
                raise SystemExit(f"--dataele-override {o!r}: expected REF=TYPE:MIN-MAX")
            self.de[m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)))
        self.codesets = set()
        if codes and os.path.exists(codes):
            for cs in ET.parse(codes).getroot().iter("codeset"):
                self.codesets.add(text(cs, "id"))
        self.version_codes = version_codes
        self.out = []
        self.notes = []  # things that did not fit the format, reported on stderr

    def emit(self, depth, line):
        self.out.append("  " * depth + line)

    def element(self, e, depth, seg_id, in_composite):
        where = e.get("xid") or f"{seg_id}{text(e, 'seq')}"
        ref = text(e, "data_ele")
        if ref not in self.de:
            raise SystemExit(f"{where}: data element {ref!r} is not in dataele.xml; add --dataele-override")
        dt, mn, mx = self.de[ref]
        if dt == "N":
            dt = "N0"
        seq = seq_of(e, where)
        line = f"el {seq:02d} {ref} {text(e, 'usage', 'S')} {dt} {mn}-{mx}"
        rep = text(e, "repeat", "1")
        if rep != "1":
            if in_composite:
                raise SystemExit(f"{where}: a component cannot repeat")
            line += " x" + (repeat_word(rep, where).replace(">1", "99"))
            if rep == ">1":
                self.notes.append(f"{where}: element repeat >1 written as x99")
        line += " " + quote(text(e, "name"))
        vc = e.find("valid_codes")
        sets = []
        if vc is not None:
            codes = []
            for c in vc.findall("code"):
                if c.text and c.text.strip() and c.text.strip() not in codes:
                    codes.append(c.text.strip())
            if codes and seg_id == "ST" and seq == 3:
                # the table also selects these labels (--alias), so ST03 must accept them
                codes = sorted(set(codes) | set(self.version_codes))
            if codes:
                for c in codes:
                    if any(ch in c for ch in '"[]'):
                        raise SystemExit(f"{where}: code {c!r} cannot be written")
                    if " " in c:
                        self.notes.append(f"{where}: code {c!r} holds spaces, written quoted")
                line += " [" + " ".join(f'"{c}"' if " " in c else c for c in codes) + "]"
            ext = vc.get("external")
            if ext:
                if self.codesets and ext not in self.codesets:
                    self.notes.append(f"{where}: external code set {ext!r} is not in codes.xml")
                sets.append(external_name(ext))
        rx = text(e, "regex")
        if rx:
            for pat, name in REGEX:
                m = pat.fullmatch(rx)
                if m:
                    sets.append(name(m))
                    self.notes.append(f"{where}: regex {rx} written as {{{name(m)}}}")
                    break
            else:
                raise SystemExit(f"{where}: regex {rx!r} has no code set name; extend REGEX")
        if len(sets) > 1:
            raise SystemExit(f"{where}: more than one code set {sets}")
        if sets:
            line += " {" + sets[0] + "}"
        self.emit(depth, line)

    def segment(self, s, depth):
        sid = s.get("xid")
        self.emit(depth, f"seg {sid} {text(s, 'usage', 'S')} {repeat_word(text(s, 'max_use', '1'), sid)} "
                  + quote(text(s, "name")))
        for c in fields(s):
            if c.tag == "element":
                self.element(c, depth + 1, sid, False)
                continue
            where = f"{sid}{text(c, 'seq')} composite"
            line = f"composite {seq_of(c, where):02d} {text(c, 'data_ele')} {text(c, 'usage', 'S')}"
            rep = text(c, "repeat", "1")
            if rep != "1":
                line += " x" + repeat_word(rep, where).replace(">1", "99")
            self.emit(depth + 1, line + " " + quote(text(c, "name")))
            comps = sorted(c.findall("element"), key=lambda x: seq_of(x, where))
            for sub in comps:
                self.element(sub, depth + 2, sid, True)
        for syn in s.findall("syntax"):
            r = (syn.text or "").strip()
            if not RULE.match(r):
                raise SystemExit(f"{sid}: syntax rule {r!r} does not fit rule <X><NN><NN>...")
            self.emit(depth + 1, "rule " + r)

    def body(self, node, depth):
        for c in body_nodes(node):
            if c.tag == "segment":
                self.segment(c, depth)
            else:
                xid = c.get("xid")
                self.emit(depth, f"loop {xid} {text(c, 'usage', 'S')} {repeat_word(text(c, 'repeat', '1'), xid)} "
                          + quote(text(c, "name")))
                self.body(c, depth + 1)


# ---------------------------------------------------------------- --check

def map_items(st_loop):
    """What the map holds between ST and SE, in document order: (kind, id) pairs."""
    items = []

    def walk(node):
        for c in body_nodes(node):
            if c.tag == "segment":
                items.append(("seg", c.get("xid")))
                for f in fields(c):
                    if f.tag == "element":
                        items.append(("el", text(f, "seq").zfill(2)))
                    else:
                        items.append(("composite", text(f, "seq").zfill(2)))
                        for sub in sorted(f.findall("element"), key=lambda x: int(text(x, "seq"))):
                            items.append(("component", text(sub, "seq").zfill(2)))
                for syn in c.findall("syntax"):
                    items.append(("rule", (syn.text or "").strip()))
            else:
                items.append(("loop", c.get("xid")))
                walk(c)
    walk(st_loop)
    return items


def guide_items(lines):
    """Reads a guide's body back: (kind, id) pairs plus a list of format problems."""
    items, problems = [], []
    stack = []  # kinds of the open lines, one per depth
    last_pos = {}  # depth -> last element position seen under the line at depth-1
    in_body = False
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\n")
        code = _strip_comment(line)
        if not code.strip():
            continue
        if "\t" in line:
            problems.append(f"line {n}: tab")
        indent = len(code) - len(code.lstrip(" "))
        if indent % 2:
            problems.append(f"line {n}: indentation {indent} is not a multiple of two")
        depth = indent // 2
        words = code.split()
        kind = words[0]
        if kind in ("guide", "name", "transaction", "alias", "source", "context"):
            if in_body or depth:
                problems.append(f"line {n}: header line {kind} inside the body")
            continue
        in_body = True
        if depth > len(stack):
            problems.append(f"line {n}: indented {depth} levels under a depth-{len(stack)} line")
            depth = len(stack)
        del stack[depth:]
        for d in list(last_pos):
            if d > depth:
                del last_pos[d]
        parent = stack[-1] if stack else None
        allowed = {"loop": (None, "loop"), "seg": (None, "loop"), "el": ("seg", "composite"),
                   "composite": ("seg",), "rule": ("seg",)}
        if kind not in allowed:
            problems.append(f"line {n}: unknown line kind {kind!r}")
            continue
        if parent not in allowed[kind]:
            problems.append(f"line {n}: {kind} under {parent or 'the top level'}")
        if kind in ("el", "composite"):
            pos = words[1]
            if not re.fullmatch(r"\d\d", pos):
                problems.append(f"line {n}: position {pos!r} is not two digits")
            elif int(pos) <= last_pos.get(depth, 0):
                problems.append(f"line {n}: position {pos} out of order")
            else:
                last_pos[depth] = int(pos)
            if kind == "el":
                if not re.search(r' (R|S|N) [A-Z][A-Z0-9]? \d+-\d+( x\d+)? "', code):
                    problems.append(f"line {n}: element line does not read <usage> <type> <min>-<max> [x<n>] \"name\"")
            items.append(("component" if parent == "composite" and kind == "el" else kind, pos))
        elif kind == "rule":
            items.append(("rule", words[1]))
        else:
            items.append((kind, words[1]))
            if kind == "seg":
                last_pos[depth + 1] = 0
        stack.append(kind)
        if kind == "composite":
            last_pos[depth + 1] = 0
    return items, problems


def _strip_comment(line):
    q = False
    for i, ch in enumerate(line):
        if ch == '"':
            q = not q
        elif ch == "#" and not q:
            return line[:i]
    return line


def check(st_loop, lines, label):
    map_list = map_items(st_loop)
    got, problems = guide_items(lines)
    # a count straight from the XML, independent of the walk above
    raw = {"loop": sum(1 for l in st_loop.iter("loop") if l.get("xid") not in WRAPPERS) - 1,
           "seg": sum(1 for _ in st_loop.iter("segment")),
           "el+comp": sum(1 for _ in st_loop.iter("element")) + sum(1 for _ in st_loop.iter("composite")),
           "rule": sum(1 for _ in st_loop.iter("syntax"))}
    for k, n in raw.items():
        g = sum(1 for i in got if i[0] in (("el", "composite", "component") if k == "el+comp" else (k,)))
        if g != n:
            problems.append(f"the map's XML holds {n} {k} in ST_LOOP, the guide {g}")
    kinds = ("loop", "seg", "el", "composite", "component", "rule")
    print(f"{label}: {'':9} " + " ".join(f"{k + 's':>11}" for k in kinds))
    for who, lst in (("map", map_list), ("guide", got)):
        print(f"{label}: {who:9} " + " ".join(f"{sum(1 for i in lst if i[0] == k):>11}" for k in kinds))
    el_map = sum(1 for i in map_list if i[0] in ("el", "composite", "component"))
    el_got = sum(1 for i in got if i[0] in ("el", "composite", "component"))
    print(f"{label}: loops {sum(1 for i in map_list if i[0] == 'loop')}/{sum(1 for i in got if i[0] == 'loop')}, "
          f"segments {sum(1 for i in map_list if i[0] == 'seg')}/{sum(1 for i in got if i[0] == 'seg')}, "
          f"elements (simple+composite+component) {el_map}/{el_got} (map/guide)")
    if got != map_list:
        for i, (a, b) in enumerate(zip(map_list, got)):
            if a != b:
                problems.append(f"item {i}: map has {a}, guide has {b}")
                break
        else:
            problems.append(f"lengths differ: map {len(map_list)} items, guide {len(got)}")
    segs = [i[1] for i in got if i[0] in ("seg", "loop")]
    if not segs or segs[0] != "ST" or segs[-1] != "SE":
        problems.append("body does not start with seg ST and end with seg SE")
    for p in problems[:20]:
        print(f"{label}: PROBLEM {p}")
    print(f"{label}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return not problems


def pyx12_version(map_path):
    site = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(map_path))))
    for d in sorted(glob.glob(os.path.join(site, "pyx12-*.dist-info"))):
        m = re.match(r"pyx12-(.+)\.dist-info$", os.path.basename(d))
        if m:
            return m.group(1)
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--map", required=True, help="pyx12 XML map (pyx12/map/*.xml)")
    ap.add_argument("--dataele", help="pyx12 dataele.xml (default: beside the map)")
    ap.add_argument("--codes", help="pyx12 codes.xml (default: beside the map)")
    ap.add_argument("--id", required=True, help="short guide id (837P, 999, ...)")
    ap.add_argument("--version", required=True, help="version label, GS08/ST03 (005010X222A1)")
    ap.add_argument("--transaction", nargs=2, required=True, metavar=("ST01", "GS01"))
    ap.add_argument("--alias", action="append", default=[], help="other version label (repeatable)")
    ap.add_argument("--name", help="guide name (default: the map's <name>)")
    ap.add_argument("--context", help='business-unit element for 999 CTX, e.g. "CLM 01"')
    ap.add_argument("--pyx12-version", help="pyx12 version to cite (default: from its dist-info)")
    ap.add_argument("--dataele-override", action="append", default=[],
                    help="REF=TYPE:MIN-MAX, replacing pyx12's dataele.xml entry (cite why in --source)")
    ap.add_argument("--source", action="append", default=[], help="extra source line")
    ap.add_argument("--check", nargs="?", const="-", metavar="FILE",
                    help="compare the conversion (or FILE) with the map instead of printing it")
    a = ap.parse_args()

    mapdir = os.path.dirname(os.path.abspath(a.map))
    root = ET.parse(a.map).getroot()
    conv = Converter(a.dataele or os.path.join(mapdir, "dataele.xml"),
                     a.codes or os.path.join(mapdir, "codes.xml"),
                     a.dataele_override, [a.version] + a.alias)
    st = find_st_loop(root)
    conv.body(st, 0)
    ver = a.pyx12_version or pyx12_version(a.map)
    hdr = ["# Generated by from-pyx12.py; edit the converter or the source, not this file.",
           f"guide {a.id} {a.version}",
           f"name {quote(a.name or text(root, 'name'))}",
           f"transaction {a.transaction[0]} {a.transaction[1]}"]
    if a.alias:
        hdr.append("alias " + " ".join(a.alias))
    if a.context:
        hdr.append("context " + a.context)
    hdr.append(quote_source(f"pyx12 {ver} map {os.path.basename(a.map)} (BSD-style licence): loops, segments, "
                            "elements, usage, repeats, lengths, codes; element types and lengths from pyx12 "
                            "dataele.xml, external code set names from codes.xml"))
    hdr += [quote_source(x) for x in a.source]
    text_out = "\n".join(hdr + [""] + conv.out) + "\n"

    if a.check:
        lines = text_out.splitlines() if a.check == "-" else open(a.check, encoding="utf-8").read().splitlines()
        ok = check(st, lines, a.id if a.check == "-" else a.check)
        sys.exit(0 if ok else 1)
    sys.stdout.write(text_out)
    for n in sorted(set(conv.notes)):
        print(f"{a.id}: note: {n}", file=sys.stderr)


def quote_source(s):
    return "source " + quote(s)


if __name__ == "__main__":
    main()
