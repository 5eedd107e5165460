//! Turning AVP data into text and JSON by dictionary type, and text into AVP data.

use bytes::Bytes;
use diameter_codegen::model::{Avp, BaseType};
use diameter_runtime::codec::dynamic;
use diameter_runtime::{Address, AvpValue, DiameterUri, Time};

use crate::dict::Dict;

/// A UTC date and time for a Unix time (proleptic Gregorian, days-from-civil inverse).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn printable(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c))
}

fn item_name(def: &Avp, v: i64) -> Option<&str> {
    def.items
        .iter()
        .find(|i| i.code == v)
        .map(|i| i.name.as_str())
}

/// The value as display text (grouped AVPs are handled by the caller).
pub fn text(def: Option<&Avp>, data: &Bytes) -> String {
    let Some(def) = def else {
        return if printable(data) {
            format!("{:?}", String::from_utf8_lossy(data))
        } else {
            format!("0x{}", hex(data))
        };
    };
    let bad = || format!("0x{} (invalid {})", hex(data), def.ty.name());
    match def.ty {
        BaseType::Integer32 | BaseType::Enumerated => match i32::decode_value(data.clone()) {
            Ok(v) => match item_name(def, v as i64) {
                Some(n) => format!("{n} ({v})"),
                None => v.to_string(),
            },
            Err(_) => bad(),
        },
        BaseType::Unsigned32 => match u32::decode_value(data.clone()) {
            Ok(v) => match item_name(def, v as i64) {
                Some(n) => format!("{n} ({v})"),
                None => v.to_string(),
            },
            Err(_) => bad(),
        },
        BaseType::Integer64 => i64::decode_value(data.clone())
            .map(|v| v.to_string())
            .unwrap_or_else(|_| bad()),
        BaseType::Unsigned64 => u64::decode_value(data.clone())
            .map(|v| v.to_string())
            .unwrap_or_else(|_| bad()),
        BaseType::Float32 => f32::decode_value(data.clone())
            .map(|v| v.to_string())
            .unwrap_or_else(|_| bad()),
        BaseType::Float64 => f64::decode_value(data.clone())
            .map(|v| v.to_string())
            .unwrap_or_else(|_| bad()),
        BaseType::Address => Address::decode_value(data.clone())
            .map(|a| format!("{a:?}"))
            .unwrap_or_else(|_| bad()),
        BaseType::Time => Time::decode_value(data.clone())
            .map(|t| utc(t.unix_seconds()))
            .unwrap_or_else(|_| bad()),
        BaseType::OctetString => {
            if printable(data) {
                format!("{:?}", String::from_utf8_lossy(data))
            } else {
                format!("0x{}", hex(data))
            }
        }
        BaseType::DiameterUri => match DiameterUri::decode_value(data.clone()) {
            Ok(u) => format!("{:?}", u.as_str()),
            Err(_) => bad(),
        },
        BaseType::Utf8String
        | BaseType::DiameterIdentity
        | BaseType::IpFilterRule
        | BaseType::QosFilterRule => match std::str::from_utf8(data) {
            Ok(s) => format!("{s:?}"),
            Err(_) => bad(),
        },
        BaseType::Grouped => format!("0x{}", hex(data)),
    }
}

/// The value as JSON.
pub fn json(def: Option<&Avp>, data: &Bytes) -> serde_json::Value {
    use serde_json::Value;
    let Some(def) = def else {
        return Value::String(hex(data));
    };
    match def.ty {
        BaseType::Integer32 | BaseType::Enumerated => i32::decode_value(data.clone())
            .map(Value::from)
            .unwrap_or(Value::Null),
        BaseType::Unsigned32 => u32::decode_value(data.clone())
            .map(Value::from)
            .unwrap_or(Value::Null),
        BaseType::Integer64 => i64::decode_value(data.clone())
            .map(Value::from)
            .unwrap_or(Value::Null),
        BaseType::Unsigned64 => u64::decode_value(data.clone())
            .map(Value::from)
            .unwrap_or(Value::Null),
        BaseType::Float32 => f32::decode_value(data.clone())
            .map(|v| Value::from(v as f64))
            .unwrap_or(Value::Null),
        BaseType::Float64 => f64::decode_value(data.clone())
            .map(Value::from)
            .unwrap_or(Value::Null),
        BaseType::Time => Time::decode_value(data.clone())
            .map(|t| Value::String(utc(t.unix_seconds())))
            .unwrap_or(Value::Null),
        BaseType::Address => Address::decode_value(data.clone())
            .map(|a| Value::String(format!("{a:?}")))
            .unwrap_or(Value::Null),
        BaseType::OctetString => {
            if printable(data) {
                Value::String(String::from_utf8_lossy(data).into_owned())
            } else {
                Value::String(hex(data))
            }
        }
        _ => match std::str::from_utf8(data) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::String(hex(data)),
        },
    }
}

/// Parses text into AVP data for an AVP of this definition. Enumerated values take their
/// item name or number.
pub fn parse(def: &Avp, s: &str) -> Result<Bytes, String> {
    let mut out = bytes::BytesMut::new();
    let err = |what: &str| format!("{}: `{s}` is not a valid {what}", def.name);
    let item = |s: &str| {
        def.items
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(s))
            .map(|i| i.code)
    };
    match def.ty {
        BaseType::Integer32 | BaseType::Enumerated => {
            let v = item(s)
                .map(|v| v as i32)
                .or_else(|| s.parse().ok())
                .ok_or_else(|| err(def.ty.name()))?;
            v.encode_value(&mut out)
        }
        BaseType::Unsigned32 => {
            let v = item(s)
                .map(|v| v as u32)
                .or_else(|| s.parse().ok())
                .ok_or_else(|| err("Unsigned32"))?;
            v.encode_value(&mut out)
        }
        BaseType::Integer64 => s
            .parse::<i64>()
            .map_err(|_| err("Integer64"))?
            .encode_value(&mut out),
        BaseType::Unsigned64 => s
            .parse::<u64>()
            .map_err(|_| err("Unsigned64"))?
            .encode_value(&mut out),
        BaseType::Float32 => s
            .parse::<f32>()
            .map_err(|_| err("Float32"))?
            .encode_value(&mut out),
        BaseType::Float64 => s
            .parse::<f64>()
            .map_err(|_| err("Float64"))?
            .encode_value(&mut out),
        BaseType::Address => {
            let ip: std::net::IpAddr = s.parse().map_err(|_| err("IP address"))?;
            Address::from(ip).encode_value(&mut out)
        }
        BaseType::Time => {
            let secs: u64 = s.parse().map_err(|_| err("Unix time in seconds"))?;
            Time::from_unix_seconds(secs)
                .ok_or_else(|| err("Time"))?
                .encode_value(&mut out)
        }
        BaseType::DiameterUri => {
            DiameterUri::parse(s).map_err(|e| format!("{}: {e}", def.name))?;
            out.extend_from_slice(s.as_bytes())
        }
        BaseType::OctetString => match s.strip_prefix("0x") {
            Some(h) if h.len() % 2 == 0 && h.chars().all(|c| c.is_ascii_hexdigit()) => {
                for i in (0..h.len()).step_by(2) {
                    out.extend_from_slice(&[
                        u8::from_str_radix(&h[i..i + 2], 16).map_err(|_| err("hex"))?
                    ]);
                }
            }
            _ => out.extend_from_slice(s.as_bytes()),
        },
        BaseType::Grouped => {
            return Err(format!(
                "{} is Grouped: give its members in a file (--file)",
                def.name
            ))
        }
        _ => out.extend_from_slice(s.as_bytes()),
    }
    Ok(out.freeze())
}

/// The flags an AVP gets when we build it: M per dictionary, V with a vendor.
pub fn flags(def: &Avp) -> diameter_runtime::AvpFlags {
    let mut f = diameter_runtime::AvpFlags::NONE;
    if def.flags.must_m {
        f = f.with(diameter_runtime::AvpFlags::MANDATORY);
    }
    if def.vendor_id != 0 {
        f = f.with(diameter_runtime::AvpFlags::VENDOR);
    }
    f
}

/// An AVP built from a JSON value: a scalar, an object (Grouped) or, for repeats, the caller
/// expands arrays.
pub fn from_json(
    dict: &Dict,
    name: &str,
    v: &serde_json::Value,
) -> Result<Vec<dynamic::Avp>, String> {
    let def = dict
        .avp_by_name(name)
        .ok_or_else(|| format!("unknown AVP `{name}`"))?;
    match v {
        serde_json::Value::Array(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(from_json(dict, name, i)?);
            }
            Ok(out)
        }
        serde_json::Value::Object(members) => {
            if def.ty != BaseType::Grouped {
                return Err(format!("{name} is not Grouped; give it a single value"));
            }
            let mut children = Vec::new();
            for (k, v) in members {
                children.extend(from_json(dict, k, v)?);
            }
            Ok(vec![dynamic::Avp::grouped(
                def.code,
                flags(def),
                def.vendor_id,
                children,
            )])
        }
        serde_json::Value::String(s) => Ok(vec![raw(def, parse(def, s)?)]),
        serde_json::Value::Number(n) => Ok(vec![raw(def, parse(def, &n.to_string())?)]),
        serde_json::Value::Bool(_) | serde_json::Value::Null => {
            Err(format!("{name}: unsupported value {v}"))
        }
    }
}

pub fn raw(def: &Avp, data: Bytes) -> dynamic::Avp {
    dynamic::Avp::from_raw(diameter_runtime::RawAvp::new(
        def.code,
        flags(def),
        def.vendor_id,
        data,
    ))
}
