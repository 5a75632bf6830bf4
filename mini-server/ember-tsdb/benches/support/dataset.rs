//! Data shaped like `shared/bench/gen_dataset.py HOSTS HOURS STEP`, generated in Rust.
//!
//! Same families, series counts and value shapes as the Python script (CPU-seconds
//! counters printed with 2 decimals, request counters with a reset on every 7th host, an
//! integer memory gauge on a Gaussian random walk, a latency histogram with 7 cumulative
//! buckets, `_sum` printed with 4 decimals and `_count`), but its own random generator,
//! so values differ from the script's while their statistics match.

/// One series: its name with labels, and its samples (ms timestamps, values).
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) family: &'static str,
    pub(crate) name: String,
    pub(crate) samples: Vec<(i64, f64)>,
}

/// splitmix64: small, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Self {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Self(h)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in [lo, hi].
    fn randint(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    fn gauss(&mut self, mu: f64, sigma: f64) -> f64 {
        let u1 = 1.0 - self.random();
        let u2 = self.random();
        mu + sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn expovariate(&mut self, lambda: f64) -> f64 {
        -(1.0 - self.random()).ln() / lambda
    }
}

/// The value a text parser returns for `v` printed with `decimals` decimals.
fn printed(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

/// Generates the dataset: `hosts` hosts, `hours` hours at `step_s` seconds.
pub(crate) fn generate(hosts: usize, hours: f64, step_s: i64) -> Vec<Series> {
    let t0 = 1_700_000_000_000i64;
    let n = (hours * 3600.0 / step_s as f64) as usize;
    let ts: Vec<i64> = (0..n as i64).map(|i| t0 + i * step_s * 1000).collect();
    let inst = |h: usize| format!("instance=\"host-{h:04}:9100\",job=\"node\"");
    let mut out = vec![];
    for h in 0..hosts {
        for c in 0..4 {
            for m in ["user", "system", "idle", "iowait"] {
                let mut r = Rng::new(&format!("cpu{h}{c}{m}"));
                let mut v = 0.0;
                let rate = if m == "idle" { 0.7 } else { 0.1 };
                let samples = ts
                    .iter()
                    .map(|&t| {
                        v += step_s as f64 * rate * r.random();
                        (t, printed(v, 2))
                    })
                    .collect();
                out.push(Series {
                    family: "node_cpu_seconds_total",
                    name: format!(
                        "node_cpu_seconds_total{{cpu=\"{c}\",{},mode=\"{m}\"}}",
                        inst(h)
                    ),
                    samples,
                });
            }
        }
    }
    for h in 0..hosts {
        for code in ["200", "404", "500"] {
            let mut r = Rng::new(&format!("req{h}{code}"));
            let mut v = 0u64;
            let max = if code == "200" { 50 } else { 3 };
            let samples = ts
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    if h % 7 == 0 && i == n / 2 {
                        v = 0;
                    }
                    v += r.randint(0, max);
                    (t, v as f64)
                })
                .collect();
            out.push(Series {
                family: "http_requests_total",
                name: format!("http_requests_total{{code=\"{code}\",{}}}", inst(h)),
                samples,
            });
        }
    }
    for h in 0..hosts {
        let mut r = Rng::new(&format!("mem{h}"));
        let mut v = 8e9f64;
        let samples = ts
            .iter()
            .map(|&t| {
                v = (v + r.gauss(0.0, 5e7)).max(1e8).trunc();
                (t, v)
            })
            .collect();
        out.push(Series {
            family: "node_memory_MemAvailable_bytes",
            name: format!("node_memory_MemAvailable_bytes{{{}}}", inst(h)),
            samples,
        });
    }
    let buckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1.0, f64::INFINITY];
    for h in 0..hosts {
        let mut r = Rng::new(&format!("hist{h}"));
        let mut cum = [0u64; 7];
        let (mut cnt, mut sum) = (0u64, 0.0f64);
        let mut bs: Vec<Vec<(i64, f64)>> = (0..7).map(|_| Vec::with_capacity(n)).collect();
        let (mut sums, mut counts) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for &t in &ts {
            let k = r.randint(0, 40);
            let obs: Vec<f64> = (0..k).map(|_| r.expovariate(20.0)).collect();
            for (b, le) in buckets.iter().enumerate() {
                cum[b] += obs.iter().filter(|&&x| x <= *le).count() as u64;
                bs[b].push((t, cum[b] as f64));
            }
            cnt += k;
            sum += obs.iter().sum::<f64>();
            sums.push((t, printed(sum, 4)));
            counts.push((t, cnt as f64));
        }
        for (le, samples) in ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"]
            .iter()
            .zip(bs)
        {
            out.push(Series {
                family: "http_request_duration_seconds_bucket",
                name: format!(
                    "http_request_duration_seconds_bucket{{{},le=\"{le}\"}}",
                    inst(h)
                ),
                samples,
            });
        }
        out.push(Series {
            family: "http_request_duration_seconds_sum",
            name: format!("http_request_duration_seconds_sum{{{}}}", inst(h)),
            samples: sums,
        });
        out.push(Series {
            family: "http_request_duration_seconds_count",
            name: format!("http_request_duration_seconds_count{{{}}}", inst(h)),
            samples: counts,
        });
    }
    out
}
