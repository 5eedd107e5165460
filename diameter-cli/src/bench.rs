//! `diameter bench`: a bounded load generator with a progress bar and a latency report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlRequest, MultipleServicesCreditControl, RequestedServiceUnit,
    SubscriptionId, SubscriptionIdType,
};
use diameter_runtime::base::{AccountingRecordType, AccountingRequest};
use diameter_runtime::node::{result_code, ErrorKind, Node};
use diameter_runtime::Message;
use hdrhistogram::Histogram;

/// Latencies a worker keeps before adding them to the shared histogram.
const LATENCY_BATCH: usize = 512;

/// What to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// CCR-Initial with Subscription-Id and Multiple-Services-Credit-Control.
    CreditControl,
    /// ACR (EVENT_RECORD).
    Accounting,
}

impl App {
    pub fn parse(s: &str) -> Result<App, String> {
        match s.to_ascii_lowercase().as_str() {
            "credit-control" | "cc" | "gy" | "4" => Ok(App::CreditControl),
            "accounting" | "acct" | "3" => Ok(App::Accounting),
            other => Err(format!(
                "--app {other}: bench sends credit-control (4) or accounting (3)"
            )),
        }
    }
    pub fn id(self) -> u32 {
        match self {
            App::CreditControl => 4,
            App::Accounting => 3,
        }
    }
}

/// Bench parameters.
pub struct Params {
    pub app: App,
    pub origin_host: String,
    pub origin_realm: String,
    pub destination_realm: String,
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub progress: bool,
}

/// The outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub requests: u64,
    pub answered: u64,
    pub success: u64,
    /// Requests without a 2xxx answer.
    pub errors: u64,
    /// Those errors by Result-Code or failure (timeout, peer down …).
    #[serde(skip)]
    pub error_kinds: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The request of a worker, encoded once: Session-Id ends in a fixed-width counter that
/// [`Template::next`] rewrites in place, so every request has its own session.
struct Template {
    bytes: bytes::BytesMut,
    counter_at: usize,
}

const COUNTER_DIGITS: usize = 12;

impl Template {
    fn new(p: &Params, worker: usize) -> Template {
        let session = format!(
            "{};{};{:0width$}",
            p.origin_host,
            worker,
            0,
            width = COUNTER_DIGITS
        );
        let bytes = bytes::BytesMut::from(&request(p, &session, 0)[..]);
        let counter_at = bytes
            .windows(session.len())
            .position(|w| w == session.as_bytes())
            .map(|i| i + session.len() - COUNTER_DIGITS)
            .unwrap_or(0);
        Template { bytes, counter_at }
    }

    fn next(&mut self, n: u64) -> Bytes {
        let digits = format!(
            "{:0width$}",
            n % 10u64.pow(COUNTER_DIGITS as u32),
            width = COUNTER_DIGITS
        );
        self.bytes[self.counter_at..self.counter_at + COUNTER_DIGITS]
            .copy_from_slice(digits.as_bytes());
        Bytes::copy_from_slice(&self.bytes)
    }
}

fn request(p: &Params, session: &str, n: u64) -> Bytes {
    let session = session.to_string();
    match p.app {
        App::CreditControl => CreditControlRequest {
            session_id: session.into(),
            origin_host: p.origin_host.as_str().into(),
            origin_realm: p.origin_realm.as_str().into(),
            destination_realm: p.destination_realm.as_str().into(),
            auth_application_id: 4,
            service_context_id: "32251@3gpp.org".into(),
            cc_request_type: CcRequestType::InitialRequest,
            cc_request_number: 0,
            destination_host: None,
            user_name: None,
            cc_sub_session_id: None,
            acct_multi_session_id: None,
            origin_state_id: None,
            event_timestamp: None,
            subscription_id: vec![SubscriptionId {
                subscription_id_type: SubscriptionIdType::EndUserE164,
                subscription_id_data: "491711234567".into(),
            }],
            subscription_id_extension: vec![],
            service_identifier: None,
            termination_cause: None,
            requested_service_unit: None,
            requested_action: None,
            used_service_unit: vec![],
            multiple_services_indicator: None,
            multiple_services_credit_control: vec![MultipleServicesCreditControl {
                granted_service_unit: None,
                requested_service_unit: Some(RequestedServiceUnit {
                    cc_time: None,
                    cc_money: None,
                    cc_total_octets: Some(1 << 20),
                    cc_input_octets: None,
                    cc_output_octets: None,
                    cc_service_specific_units: None,
                    avps: vec![],
                }),
                used_service_unit: vec![],
                tariff_change_usage: None,
                service_identifier: vec![],
                rating_group: Some(100),
                gsu_pool_reference: vec![],
                validity_time: None,
                result_code: None,
                final_unit_indication: None,
                qos_final_unit_indication: None,
                avps: vec![],
            }],
            service_parameter_info: vec![],
            cc_correlation_id: None,
            user_equipment_info: None,
            user_equipment_info_extension: None,
            proxy_info: vec![],
            route_record: vec![],
            avps: vec![],
        }
        .encode(0, 0),
        App::Accounting => AccountingRequest {
            session_id: session.into(),
            origin_host: p.origin_host.as_str().into(),
            origin_realm: p.origin_realm.as_str().into(),
            destination_realm: p.destination_realm.as_str().into(),
            accounting_record_type: AccountingRecordType::EventRecord,
            accounting_record_number: n as u32,
            acct_application_id: Some(3),
            vendor_specific_application_id: None,
            user_name: None,
            destination_host: None,
            accounting_sub_session_id: None,
            acct_session_id: None,
            acct_multi_session_id: None,
            acct_interim_interval: None,
            accounting_realtime_required: None,
            origin_state_id: None,
            event_timestamp: None,
            proxy_info: vec![],
            route_record: vec![],
            avps: vec![],
        }
        .encode(0, 0),
    }
}

/// Runs the load against a node whose peer is ready.
pub async fn run(node: &Node, p: Params) -> Report {
    let p = Arc::new(p);
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let bar = if p.progress {
        let bar = match p.requests {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new(p.duration.map(|d| d.as_secs()).unwrap_or(10)),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let ticker = bar.clone().map(|bar| {
        let done = done.clone();
        let p = p.clone();
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let d = done.load(Ordering::Relaxed);
                let now = Instant::now();
                let rate = (d - last.1) as f64 / (now - last.0).as_secs_f64();
                last = (now, d);
                match p.requests {
                    Some(_) => bar.set_position(d),
                    None => bar.set_position(start.elapsed().as_secs()),
                }
                bar.set_message(format!("{rate:.0} answers/s"));
            }
        })
    });
    let mut workers = Vec::new();
    let concurrency = p.concurrency.max(1) as u64;
    let hist = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
    ));
    for w in 0..concurrency as usize {
        let (node, p, sent, done, stop, shared) = (
            node.clone(),
            p.clone(),
            sent.clone(),
            done.clone(),
            stop.clone(),
            hist.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut template = Template::new(&p, w);
            // Worker w sends requests w, w + C, w + 2C …: no counter shared per request.
            let mut n = w as u64;
            let mut unreported = 0u64;
            let mut attempts = 0u64;
            // Latencies go to the one shared histogram in batches: 256 workers each with a
            // histogram of their own would spend more on cache misses than on requests.
            let mut latencies: Vec<u64> = Vec::with_capacity(LATENCY_BATCH);
            let flush = |latencies: &mut Vec<u64>| {
                let mut h = shared.lock().unwrap_or_else(|p| p.into_inner());
                for &l in latencies.iter() {
                    let _ = h.record(l);
                }
                latencies.clear();
            };
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let (mut answered, mut success) = (0u64, 0u64);
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if p.requests.is_some_and(|max| n >= max) {
                    break;
                }
                if p.duration.is_some_and(|d| start.elapsed() >= d) {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                if let Some(rate) = p.rate {
                    let due = start + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                }
                let req = template.next(n);
                n += concurrency;
                let t0 = Instant::now();
                match node.send_bytes(req, p.timeout).await {
                    Ok(answer) => {
                        answered += 1;
                        latencies.push((t0.elapsed().as_micros() as u64).max(1));
                        if latencies.len() == LATENCY_BATCH {
                            flush(&mut latencies);
                        }
                        match result_code(&answer) {
                            Some(rc) if (2000..3000).contains(&rc) => success += 1,
                            Some(rc) => *errors.entry(rc.to_string()).or_default() += 1,
                            None => *errors.entry("no Result-Code".into()).or_default() += 1,
                        }
                    }
                    Err(e) => {
                        let key = match e.kind() {
                            ErrorKind::Timeout => "timeout",
                            ErrorKind::NoRoute => "no route",
                            ErrorKind::PeerDown => "peer down",
                            _ => "error",
                        };
                        *errors.entry(key.into()).or_default() += 1;
                        if e.kind() == ErrorKind::NoRoute {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                unreported += 1;
                attempts += 1;
                if unreported == 32 {
                    done.fetch_add(unreported, Ordering::Relaxed);
                    unreported = 0;
                }
            }
            flush(&mut latencies);
            done.fetch_add(unreported, Ordering::Relaxed);
            sent.fetch_add(attempts, Ordering::Relaxed);
            (errors, answered, success)
        }));
    }
    let mut errors = BTreeMap::new();
    let (mut answered, mut success) = (0, 0);
    for w in workers {
        if let Ok((e, a, s)) = w.await {
            for (k, v) in e {
                *errors.entry(k).or_default() += v;
            }
            answered += a;
            success += s;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let hist = hist.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let requests = sent.load(Ordering::Relaxed);
    Report {
        requests,
        answered,
        success,
        errors: requests - success,
        error_kinds: errors,
        elapsed_s: elapsed,
        rps: answered as f64 / elapsed,
        p50_us: hist.value_at_quantile(0.50),
        p90_us: hist.value_at_quantile(0.90),
        p99_us: hist.value_at_quantile(0.99),
        max_us: hist.max(),
    }
}

impl Report {
    /// Whether every request got a 2xxx answer.
    pub fn ok(&self) -> bool {
        self.requests > 0 && self.success == self.requests
    }

    /// The human report.
    pub fn text(&self) -> String {
        let mut s = format!(
            "requests {}  answered {}  success {}\nelapsed {:.2} s  {:.0} answers/s\nlatency p50 {} µs  p90 {} µs  p99 {} µs  max {} µs\n",
            self.requests, self.answered, self.success, self.elapsed_s, self.rps, self.p50_us, self.p90_us, self.p99_us, self.max_us
        );
        if self.error_kinds.is_empty() {
            s.push_str("errors none\n");
        } else {
            s.push_str(&format!("errors {}:", self.errors));
            for (k, v) in &self.error_kinds {
                s.push_str(&format!("  {k}: {v}"));
            }
            s.push('\n');
        }
        s
    }
}
