#!/usr/bin/env python3
"""Extends the bundled pack's AVP libraries (dictionaries/pack/3gpp.xml, ietf.xml, etsi.xml and
3gpp2.xml) with the AVPs that they lack and that public dictionaries define: every vendor-10415
(3GPP) AVP the sources below agree on, the IETF AVPs of the RFCs the pack's applications build on
(DOIC RFC 7683/8581, Load RFC 8583, RFC 7633 Redirect-Realm, RFC 5624 QoS parameters,
RFC 5778/5779 PMIPv6, RFC 4818, RFC 5580, RFC 5607, RFC 4675), ETSI (13019) and 3GPP2 (5535)
AVPs. AVPs the load already defines (base.xml, accounting.xml, credit_control.xml and every
pack file) are left exactly as they are; new ones are inserted in code order.

Sources (facts only: codes, names, types, flags, enumerated values, Grouped grammars):
  ../shared/reference-dictionaries/ (see its README):
    freediameter/dict_dcca_3gpp.csv and diameter-rfcs.csv (BSD; 3GPP TS clause per AVP),
    freediameter/dict_json/ (BSD), sigscale/*.dia (Apache-2.0), wireshark/ (GPL-2.0-or-later),
    go-diameter/ (BSD-3-Clause);
  --extra DIR (default /tmp/pack-sources), each optional and skipped with a message when absent:
    DIR/ergw             travelping/ergw_aaa dia/*.dia at 84214ad (Apache-2.0 file headers)
    DIR/python-diameter  the python-diameter 0.9.0 wheel from PyPI, unpacked (MIT; its grammars
                         name 3GPP TS releases up to 19.4.0)
    DIR/titan            eclipse/titan.ProtocolModules.DIAMETER_ProtocolModule_Generator src/*.ddf
                         at 6306acb (EPL-2.0; transcribed AVP tables with TS release and clause)
    DIR/corsac           mobius-software-ltd/corsac-diameter at fc1475a (AGPL-3.0; per-AVP spec
                         text with the TS clause, type and grammar)
    DIR/pycrate          pycrate_diameter/ of the pycrate 0.8.1 wheel from PyPI (P1sec/pycrate; LGPL-2.1+):
                         Diameter3GPP.py's TGPPAVPInfos_dict, which transcribes TS 29.230 V15.6 table 7.1
                         (code, name, type; no flags, values or grammar). It confirms, it never stands alone:
                         the table has no clause per AVP and carries the Rel-15 names and numbering.
    DIR/p1sec-ccf        P1sec/diameter-db data/ccf_from_html/ (29.153 at 5e33a1f, the rest at 32931e7; the
                         repository has no licence file): 29.153, 29.154, 29.283 and 29.389 whole, and line
                         excerpts of 29.272 and 32.299 (the AVP grammars and "is of type" sentences used here).
                         P1sec extracted the AVP-Header grammars and type sentences from the TS HTML; a header
                         without a vendor id is matched by code and name to vendor 0 or 10415. It confirms and
                         gives grammars; being machine-extracted (it keeps the TS typos) it never stands alone.
  Looked at and not used, because they add no AVP to the load: RestComm/jdiameter core/mux/common/config/
  dictionary.xml at 7f39093 (AGPL-3.0; its 659 TGPP AVPs are all in the load or the sources above, its other
  new ones are T-Mobile PL and CableLabs vendor AVPs, outside these libraries),
  Scapy 2.8.0 scapy/contrib/diameter.py (GPL-2.0-only; Rel-12/13, nothing new), Wireshark master's diameter/
  dictionary.xml (within 1 kB of the 4.0.17 copy above).
Where sources disagree, a weighted vote decides (freeDiameter's CSV and the spec text quoted by
corsac weigh most for types, freeDiameter's CSV decides the M flag, the .dia files' grammars are
preferred, then corsac's quoted ones), and OVERRIDES below records each disagreement settled by the
specification, with its clause. AVPs that only one weak source knows, Grouped AVPs whose grammar
no source gives, and AVPs whose name is already taken in the load (names must be unique, also
once Rust splits them into words) are skipped and listed.

The files it writes are owned by the project afterwards: review and correct them against the
specifications, and re-run this only to extend them again (it adds only what is missing).

    python3 scripts/extend-pack-library.py [--dry-run] [--verbose] [--extra DIR]
"""

import csv
import json
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.path.join(ROOT, "..", "shared", "reference-dictionaries")
DICT = os.path.join(ROOT, "dictionaries")
EXTRA = os.environ.get("PACK_EXTRA_SOURCES", "/tmp/pack-sources")

LIBRARIES = {10415: "3gpp.xml", 0: "ietf.xml", 13019: "etsi.xml", 5535: "3gpp2.xml"}
NOTES = {
    "3gpp.xml": "Extended by scripts/extend-pack-library.py with the 3GPP AVPs of freeDiameter's dict_dcca_3gpp (BSD, TS clause per AVP), sigscale's 3gpp.dia (Apache-2.0), Wireshark's dictionary (GPL-2.0-or-later), go-diameter (BSD-3-Clause), travelping ergw_aaa (Apache-2.0), python-diameter 0.9.0 (MIT), Eclipse Titan's Diameter DDFs (EPL-2.0) and corsac-diameter's quoted TS text (AGPL-3.0), confirmed by pycrate's transcription of TS 29.230 table 7.1 (LGPL-2.1+) and the TS grammars extracted in P1sec's diameter-db, settled by the TS (up to Rel-15..19, as each source followed) where they disagree.",
    "ietf.xml": "Extended by scripts/extend-pack-library.py with IETF AVPs (RFC 4675, 4818, 5580, 5607, 5624, 5778/5779, 7633, 8581, 8583) from Wireshark's dictionary (GPL-2.0-or-later), sigscale's ietf.dia (Apache-2.0), go-diameter (BSD-3-Clause), python-diameter 0.9.0 (MIT) and corsac-diameter (AGPL-3.0), checked against the RFCs.",
    "etsi.xml": "Extended by scripts/extend-pack-library.py with ETSI AVPs (ES 283 034/035, TS 183 017, TS 183 033) on which Wireshark's etsie2e4.xml (GPL-2.0-or-later), python-diameter 0.9.0 (MIT), Eclipse Titan's DDFs (EPL-2.0) and corsac-diameter (AGPL-3.0) agree.",
    "3gpp2.xml": "Extended by scripts/extend-pack-library.py with the 3GPP2 X.S0057 (Ty) AVPs on which Wireshark's TGPP2.xml (GPL-2.0-or-later) and python-diameter 0.9.0 (MIT) agree.",
}
# earlier wordings of NOTES, replaced by the current one when the script writes the library again
PREVIOUS_NOTES = {
    "3gpp.xml": ["Extended by scripts/extend-pack-library.py with the 3GPP AVPs of freeDiameter's dict_dcca_3gpp (BSD, TS clause per AVP), sigscale's 3gpp.dia (Apache-2.0), Wireshark's dictionary (GPL-2.0-or-later), go-diameter (BSD-3-Clause), travelping ergw_aaa (Apache-2.0), python-diameter 0.9.0 (MIT), Eclipse Titan's Diameter DDFs (EPL-2.0) and corsac-diameter's quoted TS text (AGPL-3.0), settled by the TS (up to Rel-15..19, as each source followed) where they disagree."],
}
# what each library sees (its own AVPs, its `inherits`, and base.xml); etsi.xml and 3gpp2.xml are
# given inherits="IETF" by this script so that their Grouped AVPs can name RFC AVPs
VISIBLE = {
    "3gpp.xml": ["3gpp.xml", "ietf.xml", "etsi.xml", "3gpp2.xml", "base.xml", "credit_control.xml"],
    "ietf.xml": ["ietf.xml", "base.xml", "credit_control.xml"],
    "etsi.xml": ["etsi.xml", "ietf.xml", "base.xml", "credit_control.xml"],
    "3gpp2.xml": ["3gpp2.xml", "ietf.xml", "base.xml", "credit_control.xml"],
}
INHERITS = {"etsi.xml": "IETF", "3gpp2.xml": "IETF"}
ERGW_FILES = ["diameter_3gpp_base.dia", "diameter_3gpp_ts29_061_gmb.dia", "diameter_3gpp_ts29_212.dia",
              "diameter_3gpp_ts29_214.dia", "diameter_3gpp_ts29_229.dia", "diameter_3gpp_ts29_329.dia",
              "diameter_3gpp_ts32_299.dia", "diameter_3gpp_ts32_299_si.dia"]
BASE_TYPES = {"OctetString", "Integer32", "Integer64", "Unsigned32", "Unsigned64", "Float32", "Float64", "Grouped",
              "Address", "Time", "UTF8String", "DiameterIdentity", "DiameterURI", "Enumerated", "IPFilterRule",
              "QoSFilterRule"}

# IETF AVPs added to ietf.xml (vendor 0): only these RFC AVPs, and only where the bundled load lacks them.
IETF_CODES = {
    56, 57, 58, 59,            # RFC 4675 Egress-VLANID, Ingress-Filters, Egress-VLAN-Name, User-Priority-Table
    123,                       # RFC 4818 Delegated-IPv6-Prefix
    127, 129, 130, 131, 132,   # RFC 5580 location AVPs (Location-Data 128 is there already)
    133, 134, 135, 136,        # RFC 5607 management authorization
    495, 496, 497, 498, 499, 500, 501, 502, 503,  # RFC 5624 QoS parameters
    504, 505,                  # RFC 5779 PMIP6-DHCP-Server-Address, PMIP6-IPv4-Home-Address
    507,                       # RFC 5778 Service-Configuration
    620,                       # RFC 7633 Redirect-Realm
    648,                       # RFC 8581 OC-Peer-Algo
    649, 650, 651, 652,        # RFC 8583 SourceID, Load, Load-Type, Load-Value
}

# Member names that a source misspells, by the specification's grammar.
MEMBER_ALIASES = {
    "Frame-IP-Address": "Framed-IP-Address",      # ETSI ES 283 034 Globally-Unique-Address: [ Framed-IP-Address ]
    "Frame-IPv6-Prefix": "Framed-IPv6-Prefix",    # ETSI ES 283 034 Globally-Unique-Address: [ Framed-IPv6-Prefix ]
    "APN": "Service-Selection",                   # TS 29.128 6.4.36: the APN is carried in Service-Selection
}

# (vendor, code) -> why it is left out although a source has it.
SKIP = {
    (10415, 363): "sigscale lists Accounting-Input-Octets under vendor 10415; it is the RFC 6733 base AVP (vendor 0)",
    (10415, 364): "sigscale lists Accounting-Output-Octets under vendor 10415; it is the RFC 6733 base AVP (vendor 0)",
    (10415, 458): "go-diameter lists Reservation-Priority under vendor 10415; it is ETSI TS 183 017's AVP (vendor 13019)",
    (10415, 486): "go-diameter lists MIP6-Agent-Info under vendor 10415; it is the RFC 5447 AVP (vendor 0)",
    (10415, 493): "go-diameter lists Service-Selection under vendor 10415; it is the RFC 5778 AVP (vendor 0)",
}

# Disagreements between the sources settled by the specification: (vendor, code) -> facts.
OVERRIDES = {
    # TS 29.109 6.3.1.3 (Rel-8 on): AVP 402 is NAF-Id (OctetString, M,V); Wireshark and python-diameter
    # still carry the Rel-6 name NAF-Hostname.
    (10415, 402): {"name": "NAF-Id"},
    # TS 29.109 6.3.1.8: the name is GBA_U-Awareness-Indicator (freeDiameter writes GBA-U-...); sigscale's
    # Unused-Quota-Timer under 407 is a typo for TS 32.299's 4407.
    (10415, 407): {"name": "GBA_U-Awareness-Indicator", "type": "Enumerated"},
    # TS 29.272 7.3.x: Preferred-Data-Mode (1686) is Unsigned32; Titan's second, Grouped entry is a copy error.
    (10415, 1686): {"type": "Unsigned32"},
    # TS 29.061 16.4.7 / 17.7: the 3GPP names spell IPv6 (freeDiameter's CSV writes Ipv6).
    (10415, 14): {"name": "3GPP-CG-IPv6-Address"},
    (10415, 17): {"name": "3GPP-IPv6-DNS-Servers"},
    (10415, 917): {"name": "MBMS-GGSN-IPv6-Address"},
    (10415, 919): {"name": "MBMS-BMSC-SSM-IPv6-Address"},
    # TS 29.061 17.7.x: MBMS-GW-SSM-IP-Address (924) is OctetString like the other MBMS address AVPs
    # (Wireshark and python-diameter say Address).
    (10415, 924): {"type": "OctetString"},
    # TS 29.336 8.4.x: Monitoring-Event-Functionality (3922), not Titan's "Funtionality".
    (10415, 3922): {"name": "Monitoring-Event-Functionality"},
    # TS 29.272 7.3.x: Additional-Context-Identifier (1683), not Titan's "Additional-Context-ID".
    (10415, 1683): {"name": "Additional-Context-Identifier"},
    # TS 29.283 7.3.20: MC-Service-User-Profile-Data carries 29.283's own Sequence-Number (4512, named
    # Sequence-Number-29.283 in the load), not Sh's (716); its User-Data is left to *[ AVP ] because the grammar
    # text does not tell Cx's User-Data (606) from Sh's (702).
    (10415, 4511): {"grammar": [("Sequence-Number-29.283", 0, 1, None), ("User-Data-Id", 0, 1, None), ("AVP", 0, "*", None)]},
    # M flag of AVPs that freeDiameter's CSV does not list: not set, like every AVP of the same block that the
    # CSV does list (TS 29.272 1700-1719, TS 32.299 1320-1323 are all V only); python-diameter sets M on those
    # siblings too, and corsac only by default (no explicit must), so their M is not evidence.
    (10415, 1720): {"m": False},
    (10415, 1324): {"m": False},
    (10415, 1325): {"m": False},
    # RFC 8583 7.4: Load-Value is Unsigned64 (go-diameter says Unsigned32).
    (0, 652): {"type": "Unsigned64"},
    # TS 29.128 6.4.36 (with TS 29.274 figure 8.38-10, whose fields are all present): APN-Rate-Control-Status.
    (10415, 4326): {"grammar": [("Service-Selection", 1, 1, None), ("Uplink-Number-Of-Packets-Allowed", 1, 1, None),
                                ("Number-Of-Additional-Exception-Reports", 1, 1, None),
                                ("Downlink-Number-Of-Packets-Allowed", 1, 1, None),
                                ("APN-Rate-Control-Status-Validity-Time", 1, 1, None), ("AVP", 0, "*", None)]},
}



def rec(src, name, code, vendor, typ, must, mustnot=(), items=None, members=None, spec=None):
    return {
        "src": src,
        "name": re.sub("[\u2010-\u2015\u2212]", "-", name.strip()),
        "code": int(code),
        "vendor": int(vendor),
        "type": typ,
        "must": set(must),
        "mustnot": set(mustnot),
        "items": items,
        "members": members,  # list of (name, min, max, position) ; min/max None if unknown
        "spec": spec,
    }


def _flags(s):
    return {c for c in s.upper() if c in "MVP"}


# ---------- Erlang .dia ----------
QUAL = re.compile(r"^(?:(\d*)\s*\*\s*(\d*))?\s*([<{\[])\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*[>}\]]$")


def parse_dia(path, src):
    text = open(path, encoding="utf-8", errors="replace").read()
    default_vendor = 0
    avps = {}
    order = []
    grouped = {}
    enums = {}
    section = None
    cur = None
    avp_vendor = {}
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].rstrip()
        if not line.strip():
            continue
        s = line.strip()
        if s.startswith("@"):
            parts = s.split()
            kw = parts[0]
            section = kw
            cur = None
            if kw == "@vendor":
                default_vendor = int(parts[1])
            elif kw == "@enum":
                cur = parts[1]
                enums.setdefault(cur, [])
            elif kw == "@avp_vendor_id":
                cur = int(parts[1])
                # names may follow on the same line
                for n in parts[2:]:
                    avp_vendor[n] = cur
            continue
        if section == "@avp_types":
            p = s.split()
            if len(p) >= 3:
                name, code, typ = p[0], p[1], p[2]
                fl = p[3] if len(p) > 3 else ""
                if fl == "-":
                    fl = ""
                avps[name] = (int(code), typ, _flags(fl))
                order.append(name)
        elif section == "@avp_vendor_id":
            for n in s.split():
                avp_vendor[n] = cur
        elif section == "@enum":
            p = s.split()
            if len(p) >= 2:
                enums[cur].append((int(p[-1]), " ".join(p[:-1])))
        elif section == "@grouped":
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*::=\s*<\s*AVP[- ]Header\s*:\s*(\d+)(?:\s+(\d+))?\s*>", s)
            if m:
                cur = m.group(1)
                grouped[cur] = []
                continue
            if cur is None:
                continue
            toks = re.findall(r"(?:(\d*)\s*(\*)\s*(\d*))?\s*([<{\[])\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*[>}\]]", s)
            if not toks or re.sub(r"(?:\d*\s*\*\s*\d*)?\s*[<{\[]\s*[A-Za-z0-9][A-Za-z0-9_.-]*\s*[>}\]]", "", s).strip():
                raise ValueError("%s: cannot parse %r" % (path, s))
            for lo, star, hi, br, mem in toks:
                required = br in "<{"
                if star:
                    mn = int(lo) if lo else (1 if required else 0)
                    mx = int(hi) if hi else None
                else:
                    mn = 1 if required else 0
                    mx = 1
                grouped[cur].append((mem, mn, "*" if mx is None else mx, "first" if br == "<" else None))
    out = []
    for name in order:
        code, typ, fl = avps[name]
        v = avp_vendor.get(name, default_vendor if "V" in fl else 0)
        if v == 0 and "V" in fl:
            v = default_vendor
        out.append(rec(src, name, code, v, typ, fl,
                       items=enums.get(name), members=grouped.get(name)))
    return out


# ---------- freeDiameter CSV ----------
def parse_fd_csv(path, src):
    out = []
    vendor = 0
    standard = None
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if not row or not row[0].strip():
                continue
            a = row[0].strip()
            if a.startswith("#") or a == "Attribute Name":
                continue
            if a == "@vendor":
                vendor = int(row[1])
                continue
            if a == "@standard":
                standard = row[1]
                continue
            if a.startswith("@"):
                continue
            row = row + [""] * (8 - len(row))
            name, code, section, typ, must, may, shouldnot, mustnot = row[:8]
            out.append(rec(src, name, code, vendor, typ.strip(), _flags(must), _flags(mustnot),
                           spec="%s %s" % (standard, section.strip())))
    return out


# ---------- freeDiameter JSON ----------
def parse_fd_json(path, src):
    d = json.load(open(path))
    rules = {}
    for r in d.get("AVPRules", []):
        mem = []
        for c in r["Content"]:
            mx = c.get("Max", "unbounded")
            mx = "*" if mx == "unbounded" else int(mx)
            mn = int(c.get("Min", 0))
            mem.append((c["AVP"], mn, mx, "first" if c.get("First") else None))
        rules[(r["AVP"], r.get("Vendor", 0))] = mem
    out = []
    for a in d.get("AVPs", []):
        v = a.get("Vendor", 0)
        items = None
        if "EnumValues" in a:
            items = [(int(e["Code"]), e["Name"]) for e in a["EnumValues"]]
        out.append(rec(src, a["Name"], a["Code"], v, a["Type"], _flags(a["Flags"].get("Must", "")),
                       _flags(a["Flags"].get("MustNot", "")), items=items,
                       members=rules.get((a["Name"], v))))
    return out


# ---------- Wireshark ----------
WS_TYPES = {"IPAddress": "Address", "OctetStringOrUTF8": "OctetString", "AppId": "Unsigned32",
            "VendorId": "Unsigned32", "MIPRegistrationRequest": "OctetString"}


def _ws_root(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE.*?\]>", "", text, flags=re.S)
    text = re.sub(r"&([A-Za-z0-9_]+);", lambda m: m.group(0) if m.group(1) in ("amp", "lt", "gt", "quot", "apos") else "", text)
    return ET.fromstring("<root>" + text + "</root>")


def parse_wireshark(paths, src):
    vendors = {}
    roots = [(_ws_root(p), p) for p in paths]
    for r, _ in roots:
        for v in r.iter("vendor"):
            vendors[v.get("vendor-id")] = int(v.get("code"))
    out = []
    for r, p in roots:
        for a in r.iter("avp"):
            vid = a.get("vendor-id")
            v = vendors.get(vid, 0) if vid else 0
            t = a.find("type")
            g = a.find("grouped")
            if g is not None:
                typ = "Grouped"
                members = [(m.get("name"), None, None, None) for m in g.findall("gavp")]
            else:
                typ = t.get("type-name") if t is not None else None
                typ = WS_TYPES.get(typ, typ)
                members = None
            items = [(int(e.get("code")), e.get("name")) for e in a.findall("enum")] or None
            must = set()
            mustnot = set()
            for attr, letter in (("mandatory", "M"), ("vendor-bit", "V"), ("protected", "P")):
                val = a.get(attr)
                if val == "must":
                    must.add(letter)
                elif val == "mustnot":
                    mustnot.add(letter)
            out.append(rec(src + ":" + os.path.basename(p), a.get("name"), a.get("code"), v, typ, must, mustnot,
                           items=items, members=members))
    return out


# ---------- go-diameter ----------
def parse_godiameter(path, src):
    r = ET.parse(path).getroot()
    out = []
    for a in r.iter("avp"):
        d = a.find("data")
        typ = d.get("type")
        items = [(int(i.get("code")), i.get("name")) for i in d.findall("item")] or None
        members = None
        if typ == "Grouped":
            members = []
            for ru in d.findall("rule"):
                req = (ru.get("required") or "false").lower() == "true"
                mx = ru.get("max")
                mn = int(ru.get("min")) if ru.get("min") else (1 if req else 0)
                members.append((ru.get("avp"), mn, "*" if mx in (None, "*") else int(mx), None))
        out.append(rec(src + ":" + os.path.basename(path), a.get("name"), a.get("code"), a.get("vendor-id") or 0, typ,
                       _flags(a.get("must") or ""), _flags(a.get("must-not") or ""), items=items, members=members))
    return out


# ---------- python-diameter (MIT) ----------
PYD_TYPES = {"AvpAddress": "Address", "AvpEnumerated": "Enumerated", "AvpFloat32": "Float32",
             "AvpFloat64": "Float64", "AvpGrouped": "Grouped", "AvpInteger32": "Integer32",
             "AvpInteger64": "Integer64", "AvpUnsigned32": "Unsigned32", "AvpUnsigned64": "Unsigned64",
             "AvpOctetString": "OctetString", "AvpTime": "Time", "AvpUtf8String": "UTF8String"}


def parse_pydiameter(src="pydiameter"):
    consts = {}
    for m in re.finditer(r"^([A-Z][A-Z0-9_]*) = (\d+)\s*(?:#.*)?$", open((EXTRA + "/python-diameter/diameter/message") + "/constants.py").read(), re.M):
        consts[m.group(1)] = int(m.group(2))
    text = open((EXTRA + "/python-diameter/diameter/message") + "/avp/dictionary.py").read()
    out = []
    vendor = 0
    for line in text.splitlines():
        m = re.match(r"^AVP_VENDOR_DICTIONARY\[(\d+)\]", line)
        if m:
            vendor = int(m.group(1))
            continue
        m = re.match(r'^\s*(AVP_[A-Z0-9_]+): \{"name": "([^"]+)", "type": (\w+)(.*)\}', line)
        if not m:
            continue
        const, name, typ, rest = m.groups()
        must = {"M"} if '"mandatory": True' in rest else set()
        vm = re.search(r'"vendor": (\d+)', rest)
        v = int(vm.group(1)) if vm else vendor
        if v:
            must.add("V")
        out.append(rec(src, name, consts[const], v, PYD_TYPES.get(typ, typ), must))
    # grouped members
    gtext = open((EXTRA + "/python-diameter/diameter/message") + "/avp/grouped.py").read()
    groups = {}
    for chunk in gtext.split("@dataclasses.dataclass\nclass ")[1:]:
        hm = re.search(r'represents the "([^"]+)" \((\d+)\)', chunk)
        if not hm:
            continue
        gname, gcode = hm.group(1), int(hm.group(2))
        dm0 = re.search(r'"""(.*?)"""', chunk, re.S)
        doc = dm0.group(1) if dm0 else ""
        sm = re.search(r"(3GPP TS [0-9.]+ version [0-9.]+|rfc\d+)", doc)
        fields = {}
        for fm in re.finditer(r"^    (\w+): ([^=\n]+?)(?: = .*)?$", chunk, re.M):
            fields[fm.group(1)] = fm.group(2).strip()
        dm = re.search(r"avp_def: dataclasses.InitVar\[AvpGenType\] = \((.*?)\n    \)", chunk, re.S)
        if not dm:
            continue
        mem = []
        for am in re.finditer(r'AvpGenDef\(\s*"(\w+)",\s*(AVP_[A-Z0-9_]+)(?:,\s*(VENDOR_[A-Z0-9_]+|\d+))?([^()]*(?:\([^()]*\)[^()]*)*)\)', dm.group(1)):
            attr, const, vend, rest = am.groups()
            req = "is_required=True" in rest
            islist = fields.get(attr, "").startswith("list[")
            v = consts.get(vend, 0) if vend and not vend.isdigit() else int(vend or 0)
            mem.append((const, v, 1 if req else 0, "*" if islist else 1))
        wildcard = "additional_avps" in fields
        groups[(gname, gcode)] = (mem, sm.group(1) if sm else None, wildcard)
    return out, groups, consts


# ---------- Eclipse Titan DIAMETER_ProtocolModule_Generator DDF (EPL-2.0) ----------
TITAN_TYPES = {"AVP_Address": "Address", "AVP_DiameterIdentity": "DiameterIdentity", "AVP_DiameterURI": "DiameterURI",
               "AVP_Float64": "Float64", "AVP_Float32": "Float32", "AVP_Grouped": "Grouped", "AVP_IPFilterRule": "IPFilterRule",
               "AVP_IP_Address": "Address", "AVP_Integer32": "Integer32", "AVP_Integer64": "Integer64",
               "AVP_OctetString": "OctetString", "AVP_QoSFilterRule": "QoSFilterRule", "AVP_Time": "Time",
               "AVP_UTF8String": "UTF8String", "AVP_Unsigned32": "Unsigned32", "AVP_Unsigned64": "Unsigned64",
               "enumerated": "Enumerated"}


def parse_titan_file(path, src="titan"):
    text = open(path, encoding="utf-8", errors="replace").read()
    desc = re.search(r"Description:\s*(.*)", text)
    spec = desc.group(1).strip() if desc else os.path.basename(path)
    out = []
    lines = text.splitlines()
    i = 0
    last_clause = None
    while i < len(lines):
        s = lines[i].strip()
        m = re.match(r"^//\s*([0-9][0-9A-Za-z.]*)\s*$", s)
        if m:
            last_clause = m.group(1)
        m = re.match(r"^//\s*AVP:\s*(\S+)\s*\((\d+)\)\s*(.*)$", s)
        if m:
            name, code, rest = m.group(1), int(m.group(2)), m.group(3)
            vm = re.search(r"\((\d+)\)", rest)
            vendor = int(vm.group(1)) if vm else 0
            clause = last_clause
            # find type line
            j = i + 1
            typ = None
            items = None
            while j < len(lines) and j < i + 6:
                t = lines[j].strip()
                cm = re.match(r"^//\s*([0-9][0-9A-Za-z.]*)\s*$", t)
                if cm:
                    clause = cm.group(1)
                tm = re.match(r"^type\s+(\w+)\s+(\w+)", t)
                if tm:
                    typ = TITAN_TYPES.get(tm.group(1), tm.group(1))
                    if tm.group(1) == "enumerated":
                        items = []
                        k = j
                        body = ""
                        while k < len(lines):
                            body += lines[k] + "\n"
                            if "}" in lines[k]:
                                break
                            k += 1
                        body = re.sub(r"//.*", "", body)
                        for em in re.finditer(r"(\w+)\s*\(\s*(-?\d+)\s*\)", body.split("{", 1)[1]):
                            items.append((int(em.group(2)), em.group(1)))
                    break
                j += 1
            r = rec(src + ":" + os.path.basename(path), name, code, vendor, typ, set(), items=items,
                    spec="%s %s" % (spec, clause or ""))
            r["must"] = None  # titan gives no flags
            out.append(r)
            last_clause = None
        i += 1
    return out


def parse_titan(src="titan"):
    out = []
    for f in sorted(os.listdir(EXTRA + "/titan")):
        if f.endswith(".ddf"):
            out += parse_titan_file(os.path.join(EXTRA + "/titan", f), src)
    return out


# ---------- Mobius corsac-diameter (AGPL-3.0; facts only) ----------
CORSAC_TYPES = {"DiameterEnumerated": "Enumerated", "DiameterUnsigned32": "Unsigned32", "DiameterUTF8String": "UTF8String",
                "DiameterOctetString": "OctetString", "DiameterGroupedAvp": "Grouped", "DiameterBitmask32": "Unsigned32",
                "DiameterBitmask64": "Unsigned64", "DiameterTime": "Time", "DiameterInteger32": "Integer32",
                "DiameterAddress": "Address", "DiameterIdentity": "DiameterIdentity", "DiameterInteger64": "Integer64",
                "DiameterUnsigned64": "Unsigned64", "DiameterE164Address": "OctetString", "DiameterFloat32": "Float32",
                "DiameterFloat64": "Float64", "DiameterIpFilterRule": "IPFilterRule", "DiameterUri": "DiameterURI",
                "DiameterAsciiString": "OctetString"}
SPEC_TYPES = {"enumerated": "Enumerated", "unsigned32": "Unsigned32", "utf8string": "UTF8String", "octetstring": "OctetString",
              "grouped": "Grouped", "time": "Time", "integer32": "Integer32", "address": "Address",
              "diameteridentity": "DiameterIdentity", "integer64": "Integer64", "unsigned64": "Unsigned64",
              "float32": "Float32", "float64": "Float64", "ipfilterrule": "IPFilterRule", "diameteruri": "DiameterURI",
              "qosfilterrule": "QoSFilterRule"}


def ccf_member(lo, star, hi, br, mem):
    """A grammar member from its CCF parts: `lo*hi` bounds, the bracket (`<` fixed, `{` required,
    `[` optional) and the name; returns (name, min, max, "first" or None)."""
    required = br in "<{"
    if star:
        mn = int(lo) if lo else (1 if required else 0)
        mx = int(hi) if hi else "*"
    else:
        mn, mx = (1 if required else 0), 1
    return (mem, mn, mx, "first" if br == "<" else None)


def parse_corsac(src="corsac"):
    base = EXTRA + "/corsac" + "/api/src/main/java/com/mobius/software/telco/protocols/diameter"
    consts = {}
    for f in os.listdir(base):
        if f.endswith("AvpCodes.java") or f == "VendorIDs.java":
            cls = f[:-5]
            for m in re.finditer(r"public static final \w+ (\w+)\s*=\s*(\d+)L?\s*;", open(os.path.join(base, f)).read()):
                consts[cls + "." + m.group(1)] = int(m.group(2))
    files = {}
    for d, _, fs in os.walk(base + "/primitives"):
        for f in fs:
            if f.endswith(".java"):
                files[f[:-5]] = os.path.join(d, f)
    out = []
    for cls, path in files.items():
        text = open(path, encoding="utf-8", errors="replace").read()
        am = re.search(r"@DiameterAvpDefinition\((.*?)\)\s*public interface (\w+)\s+extends\s+([\w.]+)(?:<(\w+)>)?", text, re.S)
        if not am:
            continue
        args, iname, ext, tparam = am.groups()
        def arg(k):
            m = re.search(k + r"\s*=\s*([^,)]+)", args)
            return m.group(1).strip() if m else None
        code = arg("code")
        code = int(code.rstrip("L")) if code and code.rstrip("L").isdigit() else consts.get(code)
        vend = arg("vendorId")
        vend = consts.get(vend.replace("KnownVendorIDs", "VendorIDs")) if vend and not vend.rstrip("L").isdigit() else int((vend or "0").rstrip("L"))
        name = arg("name").strip('"')
        must = {"M"} if (arg("must") or "true") == "true" else set()
        if vend:
            must.add("V")
        # the comment block just before the annotation
        pre = text[:am.start()]
        cm = list(re.finditer(r"/\*(.*?)\*/", pre, re.S))
        doc = cm[-1].group(1) if cm else ""
        if "GNU Affero" in doc:
            doc = ""
        tm = re.search(r"\bis (?:of )?type (?:of )?(\w+)", doc)
        typ = SPEC_TYPES.get(tm.group(1).lower()) if tm else None
        ext_t = CORSAC_TYPES.get(ext.split(".")[-1])
        if typ is None:
            typ = ext_t
        members = None
        gm = None
        if code is not None:
            gm = re.search(r"[A-Za-z0-9-]+\s*::=\s*<\s*AVP[ -]header\s*:?\s*%d\b[^>]*>(.*?)(?:\*\s*\[\s*AVP\s*\]|\n\s*\n|$)" % code, doc, re.S | re.I)
        if gm:
            body = gm.group(1)
            wildcard = gm.group(0).rstrip().endswith("]") and re.search(r"\*\s*\[\s*AVP\s*\]\s*$", gm.group(0)) is not None
            members = []
            for line in body.splitlines():
                line = line.split("---")[0].split("//")[0].strip().lstrip("*").strip() if line.strip().startswith("*") and not re.match(r"^\s*\*\s*(\d|\[|\{|<)", line) else line.split("---")[0].split("//")[0].strip()
                for lo, star, hi, br, mem in re.findall(r"(?:(\d*)\s*(\*)\s*(\d*))?\s*([<{\[])\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*[>}\]]", line):
                    if mem == "AVP":
                        wildcard = True
                        continue
                    members.append(ccf_member(lo, star, hi, br, mem))
            if wildcard:
                members.append(("AVP", 0, "*", None))
        items = None
        if typ in ("Enumerated",) or (tparam and tparam.endswith("Enum")):
            items = []
            for em in re.finditer(r"^[\s*]*([A-Za-z][A-Za-z0-9_\-]*)\s*\(\s*(-?\d+)\s*\)\s*$", doc, re.M):
                items.append((int(em.group(2)), em.group(1)))
            if not items and tparam and tparam in files:
                et = open(files[tparam], encoding="utf-8", errors="replace").read()
                body = et.split("{", 1)[1].split(";", 1)[0]
                for em in re.finditer(r"(\w+)\s*\(\s*(-?\d+)\s*\)", body):
                    items.append((int(em.group(2)), em.group(1)))
            items = items or None
        if code is None:
            continue
        r = rec(src, name, code, vend or 0, typ, must, items=items, members=members)
        r["doc_type"] = tm.group(1) if tm else None
        r["must_explicit"] = arg("must") is not None
        out.append(r)
    return out


# ---------- pycrate (LGPL-2.1+; facts only): TS 29.230 table 7.1 as pycrate_diameter transcribes it ----------
PYCRATE_TYPES = {"OctetString", "UTF8String", "Grouped", "Enumerated", "Unsigned32", "Unsigned64", "Integer32",
                 "Integer64", "Float32", "Float64", "Time", "Address", "DiameterIdentity", "DiameterURI",
                 "IPFilterRule", "QoSFilterRule"}


def parse_pycrate(src="pycrate"):
    """pycrate_diameter/Diameter3GPP.py: TGPPAVPInfos_dict, `code : ('Name', Type),` per 3GPP AVP (vendor
    10415) as TS 29.230 Rel-15.6 table 7.1 lists them. No flags and no enumerated values."""
    text = open(EXTRA + "/pycrate/pycrate_diameter/Diameter3GPP.py", encoding="utf-8").read()
    body = text[text.index("TGPPAVPInfos_dict = {"):]
    body = body[:re.search(r"^\s*}", body, re.M).start()]
    out = []
    for m in re.finditer(r"^\s+(\d+)\s*:\s*\('([^']+)',\s*(\w+)\)", body, re.M):
        typ = m.group(3) if m.group(3) in PYCRATE_TYPES else None
        r = rec(src, m.group(2), m.group(1), 10415, typ, set(), spec="3GPP TS 29.230 V15.6 table 7.1")
        r["must"] = None  # the table gives no flags
        out.append(r)
    return out


# ---------- P1sec diameter-db ccf_from_html (no licence file; facts only) ----------
CCF_HEAD = re.compile(r"^<\s*([^<>]+?)\s*>\s*::=\s*<\s*AVP-Header\s*:\s*(\d+)\s*,?\s*(\d+)?\s*>\s*$")
CCF_TYPE = re.compile(r"^[Tt]he ([A-Za-z0-9][A-Za-z0-9_-]*) AVP \(AVP [Cc]ode (\d+)\) is of type (\w+)\s*$")
CCF_MEMBER = re.compile(r"^(?:(\d*)\s*(\*)\s*(\d*))?\s*([<{\[])\s*([^<>{}\[\]]+?)\s*[>}\]]\s*(?:;.*)?$")


def parse_p1sec_ccf(src="p1sec"):
    """DIR/p1sec-ccf/*.ccf: the AVP grammars (`< Name > ::= < AVP-Header: code [vendor] >` and the member lines
    up to the next blank line) and the `The X AVP (AVP code N) is of type T` sentences that P1sec extracted from
    the 3GPP TS HTML. A header without a vendor id gets its vendor in gather_sources() (vendor None here)."""
    out = []
    d = EXTRA + "/p1sec-ccf"
    for f in sorted(os.listdir(d)):
        if not f.endswith(".ccf"):
            continue
        spec = "3GPP TS " + f.split(".excerpt")[0][:-4] if f.endswith(".excerpt.ccf") else "3GPP TS " + f[:-4]
        found = {}
        cur = None
        for raw in open(os.path.join(d, f), encoding="utf-8", errors="replace"):
            s = raw.strip()
            if not s:
                cur = None
                continue
            m = CCF_HEAD.match(s)
            if m:
                name, code, vend = re.sub(r"-\s+", "-", m.group(1)), int(m.group(2)), m.group(3)
                cur = found.setdefault((name, code), {"vendor": int(vend) if vend else None, "type": "Grouped", "members": []})
                cur["type"] = "Grouped"
                if vend:
                    cur["vendor"] = int(vend)
                continue
            m = CCF_TYPE.match(s)
            if m:
                cur = None
                t = SPEC_TYPES.get(m.group(3).lower())
                e = found.setdefault((m.group(1), int(m.group(2))), {"vendor": None, "type": t, "members": None})
                e["type"] = e["type"] or t
                continue
            if s.startswith("<") and "::=" in s:
                cur = None  # a command grammar
                continue
            if cur is None:
                continue
            m = CCF_MEMBER.match(s)
            if not m:
                continue
            lo, star, hi, br, mem = m.groups()
            mem = re.sub(r"-\s+", "-", mem)
            if " " in mem:
                continue  # not an AVP name (the HTML lost a hyphen)
            if mem == "AVP":
                cur["members"].append(("AVP", 0, "*", None))
                continue
            cur["members"].append(ccf_member(lo, star, hi, br, mem))
        for (name, code), e in found.items():
            r = rec(src + ":" + f, name, code, 0, e["type"], set(), members=e["members"] or None, spec=spec)
            r["vendor"] = e["vendor"]
            r["must"] = None  # no flags in the ccf files
            out.append(r)
    return out


def attach_ccf_vendors(recs):
    """A ccf AVP header without a vendor id (and every `is of type` sentence) names an AVP by code and name
    only: it is the IETF AVP when base.xml/the load or another source knows that code and name under vendor 0,
    else the 3GPP AVP when one knows it under 10415; otherwise it is dropped (it cannot be placed)."""
    keys, _ = load_existing()
    known = {}
    for k, n in keys.items():
        known.setdefault((k[1], norm(n)), set()).add(k[0])
    for r in recs:
        if fam(r["src"]) != "p1sec" and r["vendor"] is not None:
            known.setdefault((r["code"], norm(r["name"])), set()).add(r["vendor"])
    out = []
    for r in recs:
        if fam(r["src"]) == "p1sec" and r["vendor"] is None:
            vs = known.get((r["code"], norm(r["name"])), set())
            if 0 in vs:
                r["vendor"] = 0
            elif 10415 in vs:
                r["vendor"] = 10415
            else:
                continue
        out.append(r)
    return out


def load_pydiameter_records():
    """python-diameter's AVPs with their Grouped grammar and enumerated values attached."""
    out, groups, consts = parse_pydiameter()
    by_code = {(r["vendor"], r["code"]): r for r in out}
    code_of = {}
    for name, val in consts.items():
        if name.startswith("AVP_"):
            code_of[name] = val
    for (gname, gcode), (mem, spec, wildcard) in groups.items():
        target = None
        for r in out:
            if r["code"] == gcode and r["name"] == gname:
                target = r
                break
        if target is None:
            continue
        members = []
        for const, vend, mn, mx in mem:
            m = by_code.get((vend, code_of.get(const)))
            if m is None:
                continue
            members.append((m["name"], mn, mx, None))
        if wildcard:
            members.append(("AVP", 0, "*", None))
        target["members"] = members
        target["spec"] = spec
    # E_<AVP>_<VALUE> constants carry the enumerated values
    enum_consts = [(k, v) for k, v in consts.items() if k.startswith("E_")]
    keyed = {}
    for r in out:
        if r["type"] == "Enumerated":
            keyed.setdefault(re.sub(r"[^A-Z0-9]+", "_", r["name"].upper()).strip("_"), []).append(r)
    for k, v in enum_consts:
        body = k[2:]
        best = None
        for cand in keyed:
            if body.startswith(cand + "_") and (best is None or len(cand) > len(best)):
                best = cand
        if best:
            for r in keyed[best]:
                r.setdefault("_items", []).append((v, body[len(best) + 1:]))
    for rs in keyed.values():
        for r in rs:
            if r.get("_items"):
                r["items"] = sorted(set(r.pop("_items")))
    return out


def gather_sources():
    """Every AVP record of every source, as dicts (see rec())."""
    recs = []
    ref = REF
    recs += parse_dia(ref + "/sigscale/3gpp.dia", "sigscale")
    recs += parse_dia(ref + "/sigscale/ietf.dia", "sigscale")
    recs += parse_dia(ref + "/sigscale/etsi.dia", "sigscale")
    recs += parse_fd_csv(ref + "/freediameter/dict_dcca_3gpp.csv", "fdcsv")
    recs += parse_fd_csv(ref + "/freediameter/diameter-rfcs.csv", "fdcsv")
    for f in ("dictionary_dcca_3gpp.json", "dictionary_dcca_3gpp_sy.json"):
        recs += parse_fd_json(ref + "/freediameter/dict_json/" + f, "fdjson")
    recs += parse_wireshark([ref + "/wireshark/dictionary.xml", ref + "/wireshark/TGPP.xml",
                             ref + "/wireshark/TGPP2.xml", ref + "/wireshark/etsie2e4.xml"], "wireshark")
    for f in sorted(os.listdir(ref + "/go-diameter")):
        recs += parse_godiameter(ref + "/go-diameter/" + f, "godiameter")
    used = ["sigscale", "freediameter", "wireshark", "go-diameter"]
    if os.path.isdir(EXTRA + "/ergw"):
        for f in ERGW_FILES:
            recs += [r for r in parse_dia(EXTRA + "/ergw/" + f, "ergw") if r["vendor"] == 10415]
        used.append("ergw_aaa")
    for name, load in (("python-diameter", load_pydiameter_records), ("titan", parse_titan),
                       ("corsac", parse_corsac), ("pycrate", parse_pycrate),
                       ("p1sec-ccf", parse_p1sec_ccf)):
        if os.path.isdir(EXTRA + "/" + name):
            recs += load()
            used.append(name)
    recs = attach_ccf_vendors(recs)
    missing = {"ergw", "python-diameter", "titan", "corsac", "pycrate", "p1sec-ccf"} - {u.replace("ergw_aaa", "ergw") for u in used}
    for m in sorted(missing):
        sys.stderr.write("extend-pack-library: %s/%s not found; that source is skipped\n" % (EXTRA, m))
    return recs


def norm(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def fam(src):
    return src.split(":")[0]


def one_per_family(recs):
    """A source that carries an AVP several times (Titan has one DDF per TS release) votes once, with
    its last (newest) record."""
    last = {}
    for r in recs:
        last[fam(r["src"])] = r
    return list(last.values())


def vote(cands, order):
    """cands: list of (value, weight, family). The value with the largest total weight; ties go to the
    value first seen in `order` of families."""
    tot = {}
    first = {}
    for val, w, f in cands:
        tot[val] = tot.get(val, 0) + w
        rank = order.index(f) if f in order else len(order)
        first[val] = min(first.get(val, 99), rank)
    if not tot:
        return None
    return sorted(tot, key=lambda v: (-tot[v], first[v]))[0]


ORDER = ["fdcsv", "corsac", "p1sec", "titan", "pycrate", "ergw", "sigscale", "pydiameter", "wireshark", "fdjson",
         "godiameter"]
NAME_W = {"fdcsv": 3, "corsac": 2, "p1sec": 2, "titan": 2, "pycrate": 2, "ergw": 2, "sigscale": 2, "pydiameter": 2,
          "wireshark": 1.5,
          "fdjson": 1, "godiameter": 0.5}
TYPE_W = {"fdcsv": 3, "corsac": 3, "p1sec": 2, "titan": 2, "pycrate": 2, "ergw": 2, "sigscale": 2, "pydiameter": 1.5,
          "wireshark": 2,
          "fdjson": 1, "godiameter": 0.5}
M_W = {"ergw": 2, "sigscale": 2, "wireshark": 2, "corsac": 1, "pydiameter": 1, "fdjson": 1, "godiameter": 0.5}
DERIVED = {"DiameterIdentity", "DiameterURI", "IPFilterRule", "QoSFilterRule", "Address", "UTF8String"}


def choose_type(recs):
    recs = one_per_family(recs)
    present = {r["type"] for r in recs if r["type"]}
    cands = []
    for r in recs:
        t = r["type"]
        if not t or t not in BASE_TYPES:
            continue
        f = fam(r["src"])
        w = TYPE_W.get(f, 1)
        # python-diameter and Titan have no DiameterIdentity-like subtypes of their own: an
        # OctetString from them next to a derived type elsewhere is not a disagreement.
        if f in ("pydiameter", "titan") and t == "OctetString" and present & DERIVED:
            w = 0.1
        # Titan writes Integer32/Unsigned32 AVPs that carry named values as enumerated types.
        if f == "titan" and t == "Enumerated" and present & {"Integer32", "Unsigned32"}:
            w = 0.1
        if f == "corsac" and not r.get("doc_type"):
            w = 1
        cands.append((t, w, f))
    return vote(cands, ORDER)


def choose_m(recs):
    recs = one_per_family(recs)
    for r in recs:
        if fam(r["src"]) == "fdcsv":
            return "M" in r["must"]
    cands = [("M" in r["must"], (2.5 if r.get("must_explicit") else 0.5) if fam(r["src"]) == "corsac" else M_W.get(fam(r["src"]), 1),
              fam(r["src"])) for r in recs if r["must"] is not None and fam(r["src"]) in M_W]
    v = vote(cands, ["ergw", "sigscale", "wireshark", "corsac", "pydiameter", "fdjson", "godiameter"])
    return bool(v)


def item_name(n):
    n = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", "_", n)
    n = re.sub(r"[^A-Za-z0-9]+", "_", n).strip("_").upper()
    return n or "VALUE"


def choose_items(recs):
    best = None
    for f in ["corsac", "titan", "wireshark", "pydiameter", "sigscale", "godiameter", "fdjson"]:
        for r in recs:
            if fam(r["src"]) == f and r["items"]:
                its = [(c, n) for c, n in r["items"] if -2**31 <= c < 2**31]
                if its and (best is None or len(set(c for c, _ in its)) > len(set(c for c, _ in best[1]))):
                    best = (f, its)
    if not best:
        return None, None
    seen_codes = set()
    seen_names = set()
    out = []
    for c, n in sorted(best[1], key=lambda x: x[0]):
        if c in seen_codes:
            continue
        nm = item_name(n)
        if nm in seen_names or norm(nm) in {norm(x) for x in seen_names}:
            nm = "%s_%d" % (nm, c)
        seen_codes.add(c)
        seen_names.add(nm)
        out.append((c, nm))
    return best[0], out


GRAMMAR_ORDER = ["sigscale", "ergw", "corsac", "p1sec", "fdjson", "pydiameter", "godiameter", "wireshark"]


def choose_grammar(recs):
    for f in GRAMMAR_ORDER:
        for r in recs:
            if fam(r["src"]) == f and r["members"]:
                return f, r["members"]
    return None, None


def load_existing():
    """(vendor, code) -> name and name -> (vendor, code) of every AVP that base.xml, accounting.xml,
    credit_control.xml and the four libraries define (an application's own AVPs do not count: the
    library may define them too, and the application's own definition then wins for it)."""
    keys = {}
    names = {}
    files = [os.path.join(DICT, f) for f in ("base.xml", "accounting.xml", "credit_control.xml")]
    files += [os.path.join(DICT, "pack", f) for f in LIBRARIES.values()]
    for f in files:
        for a in ET.parse(f).getroot().iter("avp"):
            k = (int(a.get("vendor-id") or 0), int(a.get("code")))
            keys[k] = a.get("name")
            names[a.get("name")] = k
    return keys, names


def build(report):
    keys, names = load_existing()
    recs = gather_sources()
    by = {}
    for r in recs:
        if r["vendor"] in LIBRARIES and r["code"] > 0:
            by.setdefault((r["vendor"], r["code"]), []).append(r)
    cands = {}
    for k in sorted(by):
        if k in keys or k in SKIP:
            if k in SKIP and k not in keys:
                report["skipped"].append((k, SKIP[k]))
            continue
        rs = by[k]
        fams = {fam(r["src"]) for r in rs}
        v = k[0]
        if v == 0 and k[1] not in IETF_CODES:
            continue
        corsac_spec = any(fam(r["src"]) == "corsac" and r.get("must_explicit") and r.get("doc_type") for r in rs)
        if v == 10415 and "fdcsv" not in fams and not corsac_spec and len(fams & {"wireshark", "pydiameter", "corsac", "sigscale", "ergw", "titan", "fdjson", "pycrate", "p1sec"}) < 2:
            report["skipped"].append((k, "only in %s; not confirmed by a second source" % ",".join(sorted(fams))))
            continue
        if v in (13019, 5535) and len(fams) < 2:
            report["skipped"].append((k, "only in %s; not confirmed by a second source" % ",".join(sorted(fams))))
            continue
        o = OVERRIDES.get(k, {})
        name = o.get("name") or vote([(r["name"], NAME_W.get(fam(r["src"]), 1), fam(r["src"])) for r in one_per_family(rs)], ORDER)
        typ = o.get("type") or choose_type(rs)
        if typ is None:
            report["skipped"].append((k, "no source gives a data type"))
            continue
        m = o["m"] if "m" in o else choose_m(rs)
        c = {"key": k, "name": name, "type": typ, "m": m, "recs": rs, "srcs": sorted(fams)}
        if typ == "Enumerated":
            c["items_src"], c["items"] = choose_items(rs)
            if "items" in o:
                c["items"], c["items_src"] = o["items"], "override"
        if typ == "Grouped":
            c["grammar_src"], c["grammar"] = choose_grammar(rs)
            if "grammar" in o:
                c["grammar_src"], c["grammar"] = "override", o["grammar"]
            if not c["grammar"]:
                report["skipped"].append((k, "%s: Grouped, and no source gives its grammar" % name))
                continue
        cands[k] = c
    # names: unique in the whole load, also after Rust's word splitting (case and separators)
    taken = {norm(n): n for n in names}
    for k in sorted(cands, key=lambda k: (k[1] if k[0] else -1, k[0])):
        c = cands[k]
        n = norm(c["name"])
        if n in taken:
            report["skipped"].append((k, "%s: name taken by %s already in the load" % (c["name"], taken[n])))
            del cands[k]
            continue
        taken[n] = c["name"]
    # grammars: every member must resolve among the AVPs the library sees (VISIBLE); drop Grouped
    # AVPs that end up without members, and repeat until nothing changes
    lib_names = {}
    for fname in ["base.xml", "credit_control.xml"]:
        for a in ET.parse(os.path.join(DICT, fname)).getroot().iter("avp"):
            lib_names.setdefault(fname, set()).add(a.get("name"))
    for v, lib in LIBRARIES.items():
        for a in ET.parse(os.path.join(DICT, "pack", lib)).getroot().iter("avp"):
            lib_names.setdefault(lib, set()).add(a.get("name"))
    changed = True
    while changed:
        changed = False
        for k in sorted(cands):
            c = cands[k]
            if c["type"] != "Grouped":
                continue
            known = {}
            for lib in VISIBLE[LIBRARIES[k[0]]]:
                known.update({norm(n): n for n in lib_names.get(lib, ())})
            known.update({norm(o["name"]): o["name"] for o in cands.values() if LIBRARIES[o["key"][0]] in VISIBLE[LIBRARIES[k[0]]]})
            rules = []
            dropped = []
            wildcard = False
            for mem, mn, mx, pos in c["grammar"]:
                if mem == "AVP":
                    wildcard = True
                    continue
                real = known.get(norm(MEMBER_ALIASES.get(mem, mem)))
                if real is None:
                    dropped.append(mem)
                    continue
                if any(r[0] == real for r in rules):
                    continue
                rules.append((real, mn, mx, pos))
            if c["grammar_src"] == "wireshark":
                # Wireshark lists members without qualifiers: each is optional and may repeat, and
                # the grammar stays open unless the AVP comes from TS 32.299 (whose Grouped AVPs
                # have no *[ AVP ])
                rules = [(r[0], 0, "*", None) for r in rules]
                wildcard = not any("32.299" in (r.get("spec") or "") for r in c["recs"])
            if dropped and (not wildcard or c["grammar_src"] == "wireshark"):
                report["skipped"].append((k, "%s: members %s are not visible to its library, and its grammar has no *[ AVP ] (or only Wireshark's member list gives it)" % (c["name"], ", ".join(dropped))))
                del cands[k]
                changed = True
                continue
            if not rules:
                report["skipped"].append((k, "%s: none of its members resolve (%s)" % (c["name"], ", ".join(dropped))))
                del cands[k]
                changed = True
                continue
            c["rules"] = rules
            c["wildcard"] = wildcard
            c["dropped"] = dropped
    return cands, keys, names


def render(c):
    v, code = c["key"]
    flags = []
    if c["m"]:
        flags.append("M")
    if v:
        flags.append("V")
    attrs = '<avp name="%s" code="%d"' % (esc(c["name"]), code)
    if flags:
        attrs += ' must="%s"' % ",".join(flags)
    if v:
        attrs += ' vendor-id="%d"' % v
    lines = ["    " + attrs + ">"]
    if c["type"] == "Enumerated" and c.get("items"):
        lines.append('      <data type="Enumerated">')
        for ic, iname in c["items"]:
            lines.append('        <item code="%d" name="%s" />' % (ic, esc(iname)))
        lines.append("      </data>")
    elif c["type"] == "Grouped":
        lines.append('      <data type="Grouped">')
        for name, mn, mx, pos in c["rules"]:
            a = '<rule avp="%s"' % esc(name)
            if mn >= 1:
                a += ' required="true"'
                if mn > 1:
                    a += ' min="%d"' % mn
            elif mn == 0 and mx != "*" and False:
                pass
            a += ' max="%s"' % mx
            if pos and mx == 1 and mn >= 1:
                a += ' position="%s"' % pos
            lines.append("        " + a + " />")
        if c["wildcard"]:
            lines.append('        <rule avp="AVP" max="*" />')
        lines.append("      </data>")
    else:
        lines.append('      <data type="%s" />' % c["type"])
    lines.append("    </avp>")
    return "\n".join(lines) + "\n"


def esc(s):
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def write_library(path, new_avps, note):
    """Inserts the new AVPs into the library's <application> in code order, keeping every existing
    line as it is, and appends `note` to the description once. Written atomically."""
    text = open(path, encoding="utf-8").read()
    lines = text.splitlines(keepends=True)
    out = []
    pending = sorted(new_avps, key=lambda c: c["key"][1])
    i = 0
    for line in lines:
        m = re.match(r'\s*<avp name="[^"]*" code="(\d+)"', line)
        if m:
            code = int(m.group(1))
            while i < len(pending) and pending[i]["key"][1] < code:
                out.append(render(pending[i]))
                i += 1
        if line.strip() == "</application>":
            while i < len(pending):
                out.append(render(pending[i]))
                i += 1
        out.append(line)
    text = "".join(out)
    for prev in PREVIOUS_NOTES.get(os.path.basename(path), []):
        if note and note not in text and prev in text:
            text = text.replace(prev, note, 1)
    if note and note not in text:
        text = re.sub(r'(<application [^>]*description=")([^"]*)(")', lambda m: m.group(1) + m.group(2) + " " + note + m.group(3), text, count=1)
    lib = os.path.basename(path)
    if lib in INHERITS and not re.search(r'<application [^>]*inherits=', text):
        text = re.sub(r'(<application library="true" name="[^"]*")', lambda m: m.group(1) + ' inherits="%s"' % INHERITS[lib], text, count=1)
    fd, tmp = tempfile.mkstemp(prefix=".extend-", suffix=".xml", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    global EXTRA
    args = sys.argv[1:]
    dry = "--dry-run" in args
    if "--extra" in args:
        EXTRA = args[args.index("--extra") + 1]
    report = {"skipped": []}
    cands, keys, names = build(report)
    by_lib = {}
    for c in cands.values():
        by_lib.setdefault(LIBRARIES[c["key"][0]], []).append(c)
    for lib, cs in sorted(by_lib.items()):
        print("%s: %d new AVPs" % (lib, len(cs)))
    for k, why in report["skipped"]:
        print("skipped %s/%s: %s" % (k[0], k[1], why))
    for c in sorted(cands.values(), key=lambda c: c["key"]):
        if c.get("dropped"):
            print("grammar of %s: members dropped (not defined anywhere in the load): %s" % (c["name"], ", ".join(c["dropped"])))
    if "--verbose" in args:
        for c in sorted(cands.values(), key=lambda c: c["key"]):
            print("new %s/%s %s %s M=%s from %s%s%s" % (c["key"][0], c["key"][1], c["name"], c["type"], c["m"], ",".join(c["srcs"]),
                  (" items:" + c["items_src"]) if c.get("items_src") else "", (" grammar:" + c["grammar_src"]) if c.get("grammar_src") else ""))
    if dry:
        return
    for lib, cs in by_lib.items():
        write_library(os.path.join(DICT, "pack", lib), cs, NOTES[lib])


if __name__ == "__main__":
    main()
