#!/usr/bin/env python3
"""Runs ncx12, pyx12 and linuxforhealth-x12 on the same generated 837P batches,
interleaved, and prints medians of wall time, MB/s and peak RSS (see compare.sh)."""
import argparse, os, re, statistics, subprocess, sys, tempfile

def timed(cmd, cwd):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS MB, output)."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=cwd, capture_output=True, text=True)
    err = p.stderr
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    parts = [float(x) for x in wall.split(":")]
    secs = parts[-1] + (parts[-2] * 60 if len(parts) > 1 else 0) + (parts[-3] * 3600 if len(parts) > 2 else 0)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
    # the tool's own output (pyx12 writes its verdict to stderr, before time's report)
    own = p.stdout + err.split("\tCommand being timed:")[0]
    return secs, rss, own

LFH = """
import sys
from linuxforhealth.x12.io import X12ModelReader
n = 0
with X12ModelReader(sys.argv[1]) as r:
    for m in r.models():
        n += 1
print("models", n)
"""

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--sizes", default="5MB 50MB")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    x12 = os.path.join(a.root, "target/release/x12")
    gen = os.path.join(a.root, "target/release/gen")
    py = os.path.join(a.venv, "bin/python")
    x12valid = os.path.join(a.venv, "bin/x12valid")
    work = tempfile.mkdtemp(prefix="ncx12-compare-")
    rows = []
    for size in a.sizes.split():
        src = os.path.join(work, f"837p-{size}.x12")
        subprocess.run([gen, "837p", "--size", size, "--newline", "-o", src], check=True, capture_output=True)
        # linuxforhealth-x12 knows the 837P only by the X222A2 label; same bytes otherwise
        lfh_src = os.path.join(work, f"837p-{size}-x222a2.x12")
        with open(src) as f, open(lfh_src, "w") as g:
            g.write(f.read().replace("005010X222A1", "005010X222A2"))
        mb = os.path.getsize(src) / 1e6
        runs = {"ncx12 x12 validate": [], "pyx12 x12valid": [], "linuxforhealth-x12": []}
        verdicts = {}
        for _ in range(a.repeats):
            t, r, out = timed([x12, "validate", src], work)
            runs["ncx12 x12 validate"].append((t, r)); verdicts["ncx12 x12 validate"] = out.strip().splitlines()[-1][-90:]
            t, r, out = timed([x12valid, src], work)
            runs["pyx12 x12valid"].append((t, r))
            verdicts["pyx12 x12valid"] = next((l[-60:] for l in out.splitlines() if l.endswith(": OK") or l.endswith(": Failure")), "no verdict")
            t, r, out = timed([py, "-c", LFH, lfh_src], work)
            runs["linuxforhealth-x12"].append((t, r)); verdicts["linuxforhealth-x12"] = out.strip().splitlines()[-1][-60:] if out.strip() else "?"
        ours = statistics.median(t for t, _ in runs["ncx12 x12 validate"])
        for tool, rs in runs.items():
            t = statistics.median(x for x, _ in rs)
            r = statistics.median(y for _, y in rs)
            rows.append((size, tool, t, mb / t, r, t / ours, verdicts[tool]))
    print(f"| file | tool | wall s (median of {a.repeats}) | MB/s | peak RSS MB | x slower than ncx12 | verdict |")
    print("|---|---|---|---|---|---|---|")
    for size, tool, t, mbs, r, ratio, v in rows:
        print(f"| {size} 837P | {tool} | {t:.2f} | {mbs:.2f} | {r:.1f} | {ratio:.0f} | {v} |")

if __name__ == "__main__":
    main()
