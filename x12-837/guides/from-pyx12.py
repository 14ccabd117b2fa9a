#!/usr/bin/env python3
"""Convert a pyx12 XML map into an ncx12 guide table (see x12-core/src/schema/FORMAT.md)."""
import argparse, sys, os
import xml.etree.ElementTree as ET

EXT = {"states": "states", "pos": "pos", "country": "country", "currency": "currency", "remark_code": "remark_code"}

def txt(e, tag, default=""):
    c = e.find(tag)
    return (c.text or "").strip() if c is not None and c.text else default

def q(s):
    return '"' + s.replace('"', "'").strip() + '"'

class Conv:
    def __init__(self, dataele):
        self.de = {}
        for d in ET.parse(dataele).getroot():
            self.de[d.get("ele_num")] = (d.get("data_type"), int(d.get("min_len")), int(d.get("max_len")))
        self.out = []
        self.version_codes = []
        self.segment_id = ""
        self.counts = {"loops": 0, "segments": 0, "elements": 0}

    def element(self, e, depth):
        ref = txt(e, "data_ele")
        seq = int(txt(e, "seq"))
        dt, mn, mx = self.de.get(ref, ("AN", 1, 80))
        if dt.startswith("N") and len(dt) == 1:
            dt = "N0"
        usage = txt(e, "usage", "S")
        name = txt(e, "name")
        line = f"{'  '*depth}el {seq:02d} {ref} {usage} {dt} {mn}-{mx}"
        rep = txt(e, "repeat")
        if rep and rep not in ("1",):
            line += f" x{rep if rep.isdigit() else 99}"
        line += " " + q(name)
        vc = e.find("valid_codes")
        if vc is not None:
            ext = vc.get("external")
            codes = [c.text.strip() for c in vc.findall("code") if c.text]
            if codes and self.segment_id == "ST" and seq == 3:
                codes = sorted(set(codes) | set(self.version_codes))
            codes = ['"%s"' % c if " " in c else c for c in codes]
            if codes:
                line += " [" + " ".join(codes) + "]"
            if ext:
                line += " {" + EXT.get(ext, ext) + "}"
        rx = txt(e, "regex")
        if rx:
            m = __import__("re").fullmatch(r"\[0-9\]\{(\d+)\}", rx)
            if not m:
                raise SystemExit(f"unsupported regex {rx!r} in {name}")
            line += " {digits" + m.group(1) + "}"
        self.out.append(line)
        self.counts["elements"] += 1

    def segment(self, s, depth):
        mu = txt(s, "max_use", "1")
        mu = ">1" if mu == ">1" else mu
        self.segment_id = s.get('xid')
        self.out.append(f"{'  '*depth}seg {s.get('xid')} {txt(s,'usage','S')} {mu} {q(txt(s,'name'))}")
        self.counts["segments"] += 1
        for c in s:
            if c.tag == "element":
                self.element(c, depth + 1)
            elif c.tag == "composite":
                seq = int(txt(c, "seq"))
                line = f"{'  '*(depth+1)}composite {seq:02d} {txt(c,'data_ele')} {txt(c,'usage','S')}"
                rep = txt(c, "repeat")
                if rep and rep != "1":
                    line += f" x{rep if rep.isdigit() else 99}"
                line += " " + q(txt(c, "name"))
                self.out.append(line)
                self.counts["elements"] += 1
                for sub in c.findall("element"):
                    self.element(sub, depth + 2)
        for syn in s.findall("syntax"):
            self.out.append(f"{'  '*(depth+1)}rule {syn.text.strip()}")

    def body(self, node, depth):
        for c in node:
            if c.tag == "segment":
                if c.get("xid") in ("ISA", "IEA", "GS", "GE"):
                    continue
                self.segment(c, depth)
            elif c.tag == "loop":
                xid = c.get("xid")
                if xid in ("ISA_LOOP", "GS_LOOP", "ST_LOOP", "HEADER", "DETAIL", "FOOTER"):
                    self.body(c, depth)
                else:
                    rep = txt(c, "repeat", "1")
                    self.out.append(f"{'  '*depth}loop {xid} {txt(c,'usage','S')} {rep} {q(txt(c,'name'))}")
                    self.counts["loops"] += 1
                    self.body(c, depth + 1)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--map", required=True)
    ap.add_argument("--dataele", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--transaction", nargs=2, required=True)
    ap.add_argument("--alias", action="append", default=[])
    ap.add_argument("--context")
    ap.add_argument("--pyx12-version", default="?")
    ap.add_argument("--dataele-override", action="append", default=[],
                    help="REF=TYPE:MIN-MAX, replacing pyx12's dataele.xml entry (cite why in --source)")
    ap.add_argument("--source", action="append", default=[], help="extra source line")
    a = ap.parse_args()
    root = ET.parse(a.map).getroot()
    c = Conv(a.dataele)
    for o in a.dataele_override:
        ref, rest = o.split("=")
        dt, rng = rest.split(":")
        mn, mx = rng.split("-")
        c.de[ref] = (dt, int(mn), int(mx))
    c.version_codes = [a.version] + a.alias
    c.body(root, 0)
    hdr = [f"# Generated by from-pyx12.py; edit the converter or the source, not this file.",
           f"guide {a.id} {a.version}", f"name {q(txt(root,'name'))}",
           f"transaction {a.transaction[0]} {a.transaction[1]}"]
    if a.alias:
        hdr.append("alias " + " ".join(a.alias))
    if a.context:
        hdr.append("context " + a.context)
    hdr.append(f'source "pyx12 {a.pyx12_version} map {os.path.basename(a.map)} (BSD-style licence): loops, segments, elements, usage, repeats, lengths, codes; element types and lengths from pyx12 dataele.xml"')
    hdr += [f'source "{x}"' for x in a.source]
    print("\n".join(hdr + [""] + c.out))
    print(f"{a.id}: {c.counts}", file=sys.stderr)

main()
