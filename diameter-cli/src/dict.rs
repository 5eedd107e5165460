//! The dictionaries the CLI works with: the bundled ones plus `--dictionary` files, as the
//! codegen model, indexed for lookups by code and by name.

use std::collections::HashMap;
use std::path::PathBuf;

use diameter_codegen::model::{
    self, Application, Avp, BaseType, Command, Dictionary, LoadOptions, Source,
};

/// A loaded set of dictionaries.
pub struct Dict {
    pub model: Dictionary,
    by_code: HashMap<(u32, u32), usize>,
    by_name: HashMap<String, usize>,
}

impl Dict {
    /// The bundled base, accounting and credit-control dictionaries plus `extra` files.
    pub fn load(extra: &[PathBuf]) -> Result<Dict, String> {
        let mut sources = Source::embedded(diameter_dictionaries::SOURCES);
        for p in extra {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            sources.push(Source {
                path: p.clone(),
                text,
                external: None,
            });
        }
        let model = model::load(&sources, LoadOptions::default()).map_err(|diags| {
            let errors: Vec<String> = diags
                .iter()
                .filter(|d| d.severity == diameter_codegen::Severity::Error)
                .map(|d| d.to_string())
                .collect();
            errors.join("\n")
        })?;
        let mut by_code = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, a) in model.avps.iter().enumerate() {
            by_code.entry((a.code, a.vendor_id)).or_insert(i);
            by_name.entry(a.name.to_ascii_lowercase()).or_insert(i);
        }
        Ok(Dict {
            model,
            by_code,
            by_name,
        })
    }

    pub fn avp(&self, code: u32, vendor: u32) -> Option<&Avp> {
        self.by_code
            .get(&(code, vendor))
            .map(|&i| &self.model.avps[i])
    }

    pub fn avp_id(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    pub fn avp_by_name(&self, name: &str) -> Option<&Avp> {
        self.avp_id(name).map(|i| &self.model.avps[i])
    }

    pub fn is_grouped(&self, code: u32, vendor: u32) -> bool {
        self.avp(code, vendor)
            .is_some_and(|a| a.ty == BaseType::Grouped)
    }

    /// The command with this code, in the application or else in the base application.
    pub fn command(&self, app: u32, code: u32) -> Option<(&Application, &Command)> {
        for id in [app, 0] {
            if let Some(a) = self.model.application(id) {
                if let Some(c) = a.commands.iter().find(|c| c.code == code) {
                    return Some((a, c));
                }
            }
        }
        // Base commands (RAR, STR, ASR) are used with any application id; ACR lives in 3.
        self.model
            .applications
            .iter()
            .find_map(|a| a.commands.iter().find(|c| c.code == code).map(|c| (a, c)))
    }

    /// An application by id or by name (case-insensitive; `credit-control`, `accounting`).
    pub fn application(&self, s: &str) -> Option<&Application> {
        if let Ok(id) = s.parse::<u32>() {
            return self.model.application(id);
        }
        let want = s.to_ascii_lowercase().replace('_', "-");
        self.model.applications.iter().find(|a| {
            let n = a.name.to_ascii_lowercase().replace('_', "-");
            n == want
                || n.ends_with(&format!("-{want}"))
                || (want == "accounting" && a.id == 3)
                || (want == "base" && a.id == 0)
        })
    }

    /// The name of a command message: `Credit-Control-Request`.
    pub fn message_name(&self, app: u32, code: u32, request: bool) -> String {
        match self.command(app, code) {
            Some((_, c)) => format!("{}-{}", c.name, if request { "Request" } else { "Answer" }),
            None => format!(
                "Command-{code}-{}",
                if request { "Request" } else { "Answer" }
            ),
        }
    }
}
