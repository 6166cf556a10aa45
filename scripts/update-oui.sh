#!/bin/sh
# Regenerates sensor/data/oui.tsv, the IEEE vendor table the sensor embeds at build time
# (sensor/analysis/src/inventory/oui.rs). The sensor never fetches it at run time.
#
# Usage: scripts/update-oui.sh [IEEE_DATA_DIR] [OUT_FILE]
#   IEEE_DATA_DIR  directory holding oui.csv, mam.csv, oui36.csv, iab.csv
#                  (default /usr/share/ieee-data, from the Debian package ieee-data; the same
#                  files can be downloaded from the IEEE Registration Authority instead)
#   OUT_FILE       default sensor/data/oui.tsv next to this script
#   OUI_SOURCE_LABEL (environment) overrides the "# source:" header line, e.g. when the CSVs
#                  come straight from IEEE rather than from the Debian package.
#
# After regenerating, update OUI_SOURCE in sensor/analysis/src/inventory/oui.rs and sensor/data/README.md;
# a unit test checks that OUI_SOURCE names the same ieee-data version as the header line.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=${1:-/usr/share/ieee-data}
out=${2:-"$here/../sensor/data/oui.tsv"}

for f in oui.csv mam.csv oui36.csv iab.csv; do
    if [ ! -r "$src/$f" ]; then
        echo "update-oui: $src/$f not readable; install Debian's ieee-data or pass the CSV directory" >&2
        exit 1
    fi
done

if [ -z "${OUI_SOURCE_LABEL:-}" ]; then
    version=$(dpkg-query -W -f='${Version}' ieee-data 2>/dev/null || echo unknown)
    if [ -r "$src/.lastupdate" ]; then
        day=$(date -u -d "@$(cat "$src/.lastupdate")" +%Y-%m-%d)
    else
        day=$(date -u -r "$src/oui.csv" +%Y-%m-%d)
    fi
    OUI_SOURCE_LABEL="IEEE MA-L/MA-M/MA-S/IAB public listings, Debian ieee-data $version, listings of $day"
fi
export OUI_SOURCE_LABEL

python3 - "$src" "$out" <<'EOF'
import csv
import os
import re
import sys

src, out = sys.argv[1], sys.argv[2]

# (file, registry column value, hex digits of an assignment, prefix bits)
REGISTRIES = [
    ("oui.csv", "MA-L", 6, 24),
    ("mam.csv", "MA-M", 7, 28),
    ("oui36.csv", "MA-S", 9, 36),
    ("iab.csv", "IAB", 9, 36),
]

# Names that carry no vendor: hidden registrations, and blocks the IEEE RA holds itself
# (the MA-L parents of MA-M/MA-S/IAB ranges; a MAC there belongs to an unlisted sub-assignee).
NO_VENDOR = {"private", "ieee registration authority"}

# All-caps words of four letters or more that must keep their case: legal forms.
KEEP_UPPER = {"GMBH", "CORP", "SARL", "KGAA", "LTDA", "CJSC"}
VOWELS = set("AEIOUY")

MAX_NAME = 96
WORD = re.compile(r"[^\W\d_]+")


def normalise(raw):
    """Readable, consistent organisation name, or None when it names no vendor.

    Rule: replace control characters (tabs included) with spaces, collapse whitespace, trim
    spaces and trailing commas. A name with no lower-case letter at all (e.g. "SIEMENS AG") is
    re-cased word by word: a run of letters longer than three that is not a legal form and has a
    vowel becomes Capitalised ("Siemens AG"); short runs ("HP", "ABB", "AG", "LTD"), legal forms
    ("GMBH", "CORP") and vowel-less initialisms ("CCTV", "VNPT") stay as written. Names with any lower-case letter are kept as the registrant wrote them,
    because their capitals are deliberate ("PHOENIX CONTACT Electronics GmbH", "ASUSTek").
    """
    name = "".join(" " if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) else c for c in raw)
    name = " ".join(name.split()).rstrip(", ").strip()
    if not name or name.lower() in NO_VENDOR:
        return None
    if not any(c.islower() for c in name):
        def recase(m):
            w = m.group(0)
            if len(w) > 3 and w not in KEEP_UPPER and VOWELS & set(w):
                return w[0] + w[1:].lower()
            return w
        name = WORD.sub(recase, name)
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME].rstrip(", ")
    return name


best = {}  # (prefix, bits) -> name; on a duplicate assignment keep the smallest name (stable)
for fname, registry, digits, bits in REGISTRIES:
    with open(os.path.join(src, fname), newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows)
        if header[:3] != ["Registry", "Assignment", "Organization Name"]:
            sys.exit(f"update-oui: {fname}: unexpected header {header!r}")
        for row in rows:
            if len(row) < 3:
                continue
            if row[0] != registry:
                sys.exit(f"update-oui: {fname}: unexpected registry {row[0]!r}")
            prefix = row[1].strip().upper()
            if len(prefix) != digits or not re.fullmatch(r"[0-9A-F]+", prefix):
                sys.exit(f"update-oui: {fname}: bad assignment {row[1]!r}")
            name = normalise(row[2])
            if name is None:
                continue
            key = (prefix, bits)
            if key not in best or name < best[key]:
                best[key] = name

tmp = out + ".tmp"
with open(tmp, "w", encoding="utf-8", newline="\n") as f:
    f.write(f"# source: {os.environ['OUI_SOURCE_LABEL']}\n")
    f.write("# prefix_hex<TAB>bits<TAB>vendor; generated by scripts/update-oui.sh, do not edit\n")
    for (prefix, bits), name in sorted(best.items()):
        f.write(f"{prefix}\t{bits}\t{name}\n")
os.replace(tmp, out)
print(f"update-oui: wrote {len(best)} assignments to {out}", file=sys.stderr)
EOF
