#!/usr/bin/env python3
"""Regenerates the first cut of the bundled 3GPP and IETF application pack from diafuzzer's
Erlang .dia set (BSD-3-Clause, ../shared/reference-dictionaries/diafuzzer) with this
project's importer (`diameter dict convert`), then applies the project's conventions:

- the AVP libraries are named IETF, ETSI, 3GPP2 and 3GPP, and applications inherit them by
  those names;
- the IETF library drops the AVPs that the bundled base, accounting and credit-control
  dictionaries define, and inherits those applications instead (one definition per AVP);
- vendor names are 3GPP (10415), 3GPP2 (5535) and ETSI (13019);
- each file says which specification it carries and where its facts came from.

The files it writes are owned by the project afterwards: review and correct them against the
specifications, and re-run this only to start over.

    cargo build -p diameter-cli && python3 scripts/import-pack.py
"""

import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "reference-dictionaries", "diafuzzer")
OUT = os.path.join(ROOT, "dictionaries")
CLI = os.path.join(ROOT, "target", "debug", "diameter")
SCRATCH = tempfile.mkdtemp(prefix="import-pack-")

LIBRARIES = {
    "ietf-avps": ("IETF", "ietf", "AVPs of IETF RFCs used by the applications of this pack"),
    "etsi-avps": ("ETSI", "etsi", "ETSI TS 283 034 / ES 283 035 AVPs (vendor 13019)"),
    "3gpp2-avps": ("3GPP2", "3gpp2", "3GPP2 X.S0013 AVPs (vendor 5535)"),
    "3gpp-avps": ("3GPP", "3gpp", "3GPP AVPs (vendor 10415) shared by the 3GPP interfaces of this pack"),
}

# .dia file -> (output stem, specification[, application name])
APPLICATIONS = {
    "nasreq_rfc7155.dia": ("nasreq", "RFC 7155 Diameter Network Access Server Application", "NASREQ"),
    "eap_rfc4072.dia": ("eap", "RFC 4072 Diameter Extensible Authentication Protocol (EAP) Application", "EAP"),
    "sip_rfc4740.dia": ("sip", "RFC 4740 Diameter Session Initiation Protocol (SIP) Application", "SIP"),
    "mobipv4_rfc4004.dia": ("mobile_ipv4", "RFC 4004 Diameter Mobile IPv4 Application", "Mobile-IPv4"),
    "mip6a_rfc5778.dia": ("mip6a", "RFC 5778 Diameter Mobile IPv6: Support for Home Agent to Diameter Server Interaction (MIP6A)", "MIP6A"),
    "mip6i_rfc5778.dia": ("mip6i", "RFC 5778 Diameter Mobile IPv6: Support for Home Agent to Diameter Server Interaction (MIP6I)", "MIP6I"),
    "Cx.dia": ("cx", "3GPP TS 29.228 / 29.229 Cx and Dx interfaces"),
    "Gx.dia": ("gx", "3GPP TS 29.212 Gx interface"),
    "Gxx.dia": ("gxx", "3GPP TS 29.212 Gxx interface"),
    "Rx.dia": ("rx", "3GPP TS 29.214 Rx interface"),
    "S13.dia": ("s13", "3GPP TS 29.272 S13/S13' interface"),
    "S6a.dia": ("s6a", "3GPP TS 29.272 S6a/S6d interface"),
    "S6b.dia": ("s6b", "3GPP TS 29.273 S6b interface"),
    "S6c.dia": ("s6c", "3GPP TS 29.338 S6c interface"),
    "S7a.dia": ("s7a", "3GPP TS 29.272 S7a/S7d interface"),
    "S9.dia": ("s9", "3GPP TS 29.215 S9 interface"),
    "SGd.dia": ("sgd", "3GPP TS 29.338 SGd/Gdd interface"),
    "SLg.dia": ("slg", "3GPP TS 29.172 SLg interface"),
    "SLh.dia": ("slh", "3GPP TS 29.173 SLh interface"),
    "STa.dia": ("sta", "3GPP TS 29.273 STa interface", "STa"),
    "SWm.dia": ("swm", "3GPP TS 29.273 SWm interface"),
    "SWx.dia": ("swx", "3GPP TS 29.273 SWx interface"),
    "Sh.dia": ("sh", "3GPP TS 29.328 / 29.329 Sh interface"),
}

VENDORS = {"10415": "3GPP", "5535": "3GPP2", "13019": "ETSI"}

# Corrections of diafuzzer's text, each with the specification that settles it.
FIXES = {
    "SGd.dia": [
        (
            # TS 29.338 §6.3.2.3: the MT-Forward-Short-Message-Request starts with
            # < Session-Id > and { Auth-Session-State }, ends with *[ Route-Record ];
            # diafuzzer repeats three answer rules instead.
            """MT-Forward-Short-Message-Request ::= <Diameter Header: 8388646, REQ, PXY, 16777313>
      [ DRMP ]
      [ Vendor-Specific-Application-Id ]
      { Origin-Host }""",
            """MT-Forward-Short-Message-Request ::= <Diameter Header: 8388646, REQ, PXY, 16777313>
      < Session-Id >
      [ DRMP ]
      [ Vendor-Specific-Application-Id ]
      { Auth-Session-State }
      { Origin-Host }""",
        ),
        (
            """      [ Maximum-Retransmission-Time ]
  *   [ AVP ]
  *   [ Proxy-Info ]
      [ DRMP ]
      [ Vendor-Specific-Application-Id ]
      [ Experimental-Result ]
""",
            """      [ Maximum-Retransmission-Time ]
  *   [ AVP ]
  *   [ Proxy-Info ]
  *   [ Route-Record ]
""",
        ),
    ],
}

PROVENANCE = (
    "Imported from diafuzzer's {src} (BSD-3-Clause, https://github.com/Orange-OpenSource/diafuzzer)"
    " with diameter dict convert; codes, types and flags cross-checked against Wireshark's and"
    " freeDiameter's dictionaries by tests/codegen/tests/pack.rs. The specification release is"
    " the one diafuzzer followed; differences are settled by the specification."
)


def source(name):
    """The path of a diafuzzer file, corrected per FIXES into a scratch copy if listed."""
    path = os.path.join(SRC, name)
    if name not in FIXES:
        return path
    with open(path) as f:
        text = f.read()
    for old, new in FIXES[name]:
        if old not in text:
            sys.exit(f"{name}: a fix no longer applies:\n{old}")
        text = text.replace(old, new)
    fixed = os.path.join(SCRATCH, name)
    with open(fixed, "w") as f:
        f.write(text)
    return fixed


def convert(src, context):
    cmd = [CLI, "dict", "convert", source(src)]
    for c in context:
        cmd += ["--with", os.path.join(SRC, c)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{src}: {r.stderr}")
    return ET.fromstring(r.stdout.encode())


def rename_parents(app):
    parents = [p for p in app.get("inherits", "").split(",") if p]
    renamed = []
    for p in parents:
        p = LIBRARIES.get(p, (p,))[0]
        if p not in renamed:
            renamed.append(p)
    if renamed:
        app.set("inherits", ",".join(renamed))


def bundled_avps():
    names = set()
    for f in ("base.xml", "accounting.xml", "credit_control.xml"):
        for avp in ET.parse(os.path.join(OUT, f)).iter("avp"):
            names.add((avp.get("name"), avp.get("code")))
    return names


def write(root, path):
    for v in root.iter("vendor"):
        v.set("name", VENDORS.get(v.get("id"), v.get("name")))
    ET.indent(root, "  ")
    text = ET.tostring(root, encoding="unicode")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n")


def main():
    libs = list(LIBRARIES)
    known = bundled_avps()
    for lib, (name, stem, what) in LIBRARIES.items():
        root = convert(lib + ".dia", [l + ".dia" for l in libs if l != lib])
        app = root.find("application")
        app.set("name", name)
        rename_parents(app)
        if lib == "ietf-avps":
            for avp in list(app.findall("avp")):
                if (avp.get("name"), avp.get("code")) in known:
                    app.remove(avp)
            parents = ["0", "4"] + [p for p in app.get("inherits", "").split(",") if p]
            app.set("inherits", ",".join(parents))
        app.set("description", f"{what}. " + PROVENANCE.format(src=lib + ".dia"))
        write(root, os.path.join(OUT, "pack", stem + ".xml"))
    for src, (stem, spec, *name) in APPLICATIONS.items():
        root = convert(src, [l + ".dia" for l in libs])
        for app in root.findall("application"):
            if name:
                app.set("name", name[0])
            rename_parents(app)
            parents = [p for p in app.get("inherits", "").split(",") if p]
            if "IETF" not in parents:
                parents.insert(0, "IETF")
            app.set("inherits", ",".join(parents))
            app.set("description", f"{spec}. " + PROVENANCE.format(src=src))
        write(root, os.path.join(OUT, "pack", stem + ".xml"))


if __name__ == "__main__":
    main()
