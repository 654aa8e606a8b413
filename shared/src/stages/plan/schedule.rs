//! Carbon-aware timing: a contract's `schedule:` lets training and batch transform start later, and the
//! plan stages pick the start whose forecast grid carbon intensity over the job's expected run is the
//! lowest while the job still ends before the deadline. The state machine then waits in a Wait state
//! (`TimestampPath`): no compute runs and nothing is billed while it waits.
//!
//! ```yaml
//! schedule:
//!   deadline_hours: 12      # training and transform done within 12 h of the execution's start
//!   transform_hours: 1      # the transform's expected run time (default 1)
//!   profile:                # optional: this grid's typical day, gCO2e/kWh by UTC hour (24 values)
//!     source: "grid operator's 2025 hourly means, <url>"
//!     g_per_kwh: [410, 400, ...]
//! ```
//!
//! The forecast, in order of preference:
//! 1. a forecast API (`GREENPIPE_CARBON_FORECAST_URL`, with `GREENPIPE_CARBON_FORECAST_TOKEN` sent as
//!    `auth-token` and the zone from `GREENPIPE_CARBON_FORECAST_ZONE` or [`zone_for_region`]): Electricity
//!    Maps' v3 forecast format, `{"forecast": [{"carbonIntensity": 312, "datetime": "…Z"}, …]}`. A failed
//!    call never fails the plan: the next source is used and the reason is kept (`forecastError`);
//! 2. the contract's `profile`, repeated day after day;
//! 3. greenpipe's default: the region's annual grid factor from the coefficients file (Cloud Carbon
//!    Footprint's, versioned) for every hour. It is flat on purpose: greenpipe ships no hourly profile per
//!    AWS region, because none was found whose terms allow shipping it, so with no hourly data nothing
//!    waits, and the report says which source decided.
//!
//! Times are Unix seconds (UTC) here; the handler converts the execution's RFC 3339 times.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

const HOUR: i64 = 3600;
/// Longest deadline a contract may give: a week (a forecast rarely reaches further; Step Functions
/// standard executions may last a year).
const MAX_DEADLINE_HOURS: f64 = 168.0;

/// The contract's `schedule:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    /// Hours after the execution's start by which training and transform should have ended.
    pub deadline_hours: f64,
    /// Expected run time of the batch transform, hours (default 1): its window must fit before the
    /// deadline. Training's comes from its last run, or its `max_runtime_seconds`.
    #[serde(default = "one_hour")]
    pub transform_hours: f64,
    /// The grid's typical day, when no forecast API is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Regions the data may move to: the plan compares the job there (annual grid factors) with here,
    /// counting the move, and names the best one. Report only: the job still runs here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

fn one_hour() -> f64 {
    1.0
}

/// 24 hourly intensities, gCO2e/kWh, for the UTC hours 0–23, with where they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub source: String,
    pub g_per_kwh: Vec<f64>,
}

impl ScheduleSection {
    /// Parse and check the contract's raw `schedule` value; `source` names the contract in errors.
    pub fn from_value(value: &Value, source: &str) -> Result<ScheduleSection> {
        let invalid = |why: String| Error::contract_invalid(source, format!("schedule: {why}"));
        let s: ScheduleSection = serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
        if !(s.deadline_hours > 0.0 && s.deadline_hours <= MAX_DEADLINE_HOURS) {
            return Err(invalid(format!(
                "deadline_hours {} is not within (0, {MAX_DEADLINE_HOURS}]",
                s.deadline_hours
            )));
        }
        if !(s.transform_hours > 0.0 && s.transform_hours <= s.deadline_hours) {
            return Err(invalid(format!(
                "transform_hours {} is not within (0, deadline_hours]",
                s.transform_hours
            )));
        }
        if let Some(p) = &s.profile {
            if p.g_per_kwh.len() != 24 {
                return Err(invalid(format!(
                    "profile.g_per_kwh has {} values, not 24 (one per UTC hour)",
                    p.g_per_kwh.len()
                )));
            }
            if let Some(v) = p.g_per_kwh.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(invalid(format!(
                    "profile.g_per_kwh holds {v}, not an intensity >= 0"
                )));
            }
            if p.source.trim().is_empty() {
                return Err(invalid(
                    "profile.source is empty: say where the figures come from".into(),
                ));
            }
        }
        Ok(s)
    }

    /// The deadline, Unix seconds, for an execution that started at `started`.
    pub fn deadline(&self, started: i64) -> i64 {
        started + (self.deadline_hours * HOUR as f64).round() as i64
    }
}

/// An hourly forecast: `g_per_kwh[k]` holds from `start + k` hours for one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub source: String,
    /// Unix seconds, on the hour.
    pub start: i64,
    pub g_per_kwh: Vec<f64>,
}

fn floor_hour(t: i64) -> i64 {
    t.div_euclid(HOUR) * HOUR
}

impl Forecast {
    /// A daily profile repeated from the hour `from` falls in, for `hours` hours.
    pub fn from_profile(profile: &Profile, from: i64, hours: usize) -> Forecast {
        let start = floor_hour(from);
        let first = start.div_euclid(HOUR).rem_euclid(24) as usize;
        Forecast {
            source: profile.source.clone(),
            start,
            g_per_kwh: (0..hours).map(|k| profile.g_per_kwh[(first + k) % 24]).collect(),
        }
    }

    /// The same intensity every hour.
    pub fn flat(source: String, g_per_kwh: f64, from: i64, hours: usize) -> Forecast {
        Forecast {
            source,
            start: floor_hour(from),
            g_per_kwh: vec![g_per_kwh; hours],
        }
    }

    /// Points as a provider gives them (time, intensity), in any order: each holds for the hour it
    /// falls in; the forecast is the run of consecutive hours from the earliest (a gap ends it). Points
    /// that are not finite or negative are dropped. `None` when nothing is left.
    pub fn from_points(source: String, mut points: Vec<(i64, f64)>) -> Option<Forecast> {
        points.retain(|(_, v)| v.is_finite() && *v >= 0.0);
        points.sort_by_key(|(t, _)| *t);
        let start = floor_hour(points.first()?.0);
        let mut g_per_kwh: Vec<f64> = Vec::new();
        for (t, v) in points {
            let k = ((floor_hour(t) - start) / HOUR) as usize;
            match k.cmp(&g_per_kwh.len()) {
                std::cmp::Ordering::Less => {} // a second point in the same hour: the first one holds
                std::cmp::Ordering::Equal => g_per_kwh.push(v),
                std::cmp::Ordering::Greater => break,
            }
        }
        Some(Forecast {
            source,
            start,
            g_per_kwh,
        })
    }

    fn end(&self) -> i64 {
        self.start + HOUR * self.g_per_kwh.len() as i64
    }

    /// Mean intensity over `[from, from + duration)`, weighted by time; before the forecast's start the
    /// first hour's value holds. `None` when the window runs past the forecast's end.
    pub fn mean(&self, from: i64, duration: i64) -> Option<f64> {
        let to = from + duration.max(1);
        if to > self.end() || self.g_per_kwh.is_empty() {
            return None;
        }
        let mut sum = 0.0;
        let mut t = from;
        while t < to {
            let k = ((t - self.start).max(0) / HOUR) as usize;
            let hour_end = if t < self.start {
                self.start
            } else {
                self.start + HOUR * (k as i64 + 1)
            };
            let step = hour_end.min(to) - t;
            sum += self.g_per_kwh[k] * step as f64;
            t += step;
        }
        Some(sum / (to - from) as f64)
    }
}

/// When to start, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Unix seconds; `now` when nothing better fits.
    pub start: i64,
    /// Mean intensity over the job's run from `start`, gCO2e/kWh.
    pub expected_g_per_kwh: f64,
    /// The same from `now`, or `None` when the forecast does not reach that far (then `start` is now).
    pub now_g_per_kwh: Option<f64>,
}

/// The start in `[now, latest_start]` (now, or an hour boundary of the forecast) with the lowest mean
/// intensity over `duration` seconds; the earliest of equals, so a flat forecast starts now.
pub fn best_start(forecast: &Forecast, now: i64, latest_start: i64, duration: i64) -> Choice {
    let now_mean = forecast.mean(now, duration);
    let mut best = Choice {
        start: now,
        expected_g_per_kwh: now_mean.unwrap_or(f64::NAN),
        now_g_per_kwh: now_mean,
    };
    let mut h = floor_hour(now) + HOUR;
    while h <= latest_start {
        match forecast.mean(h, duration) {
            Some(m) if best.expected_g_per_kwh.is_nan() || m < best.expected_g_per_kwh - 1e-9 => {
                best.start = h;
                best.expected_g_per_kwh = m;
            }
            Some(_) => {}
            None => break,
        }
        h += HOUR;
    }
    if best.expected_g_per_kwh.is_nan() {
        // Nothing covered: the job starts now, at the forecast's first known value.
        best.start = now;
        best.expected_g_per_kwh = forecast.g_per_kwh.first().copied().unwrap_or(0.0);
    }
    best
}

/// AWS regions and the Electricity Maps zone of the grid their data centres draw from (greenpipe's
/// reading of where each region is; set `GREENPIPE_CARBON_FORECAST_ZONE` to override it).
pub fn zone_for_region(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" | "us-east-2" => "US-MIDA-PJM",
        "us-west-1" => "US-CAL-CISO",
        "us-west-2" => "US-NW-BPAT",
        "ca-central-1" => "CA-QC",
        "eu-west-1" => "IE",
        "eu-west-2" => "GB",
        "eu-west-3" => "FR",
        "eu-central-1" => "DE",
        "eu-north-1" => "SE-SE3",
        "eu-south-1" => "IT-NO",
        "ap-northeast-1" => "JP-TK",
        "ap-northeast-2" => "KR",
        "ap-southeast-1" => "SG",
        "ap-southeast-2" => "AU-NSW",
        "ap-south-1" => "IN-WE",
        "sa-east-1" => "BR-CS",
        _ => return None,
    })
}

/// A forecast API's answer (Electricity Maps v3 `carbon-intensity/forecast`) as a [`Forecast`].
pub fn parse_forecast(body: &[u8], source: String) -> std::result::Result<Forecast, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Point {
        carbon_intensity: Option<f64>,
        datetime: String,
    }
    #[derive(Deserialize)]
    struct Answer {
        forecast: Vec<Point>,
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not a forecast: {e}"))?;
    let mut points = Vec::with_capacity(answer.forecast.len());
    for p in answer.forecast {
        let micros = crate::validate::values::parse_timestamp(p.datetime.as_bytes())
            .ok_or_else(|| format!("datetime {:?} is not a timestamp", p.datetime))?;
        if let Some(v) = p.carbon_intensity {
            points.push((micros.div_euclid(1_000_000), v));
        }
    }
    Forecast::from_points(source, points).ok_or_else(|| "the forecast holds no usable point".to_string())
}

/// The plan's decision, as the plan output's `schedule` (what the report and the timeline show).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// RFC 3339: the Wait state's `TimestampPath`.
    pub start_at: String,
    pub wait_seconds: i64,
    pub deadline: String,
    /// The job's expected run, seconds, and where the figure comes from.
    pub duration_seconds: i64,
    pub duration_basis: String,
    pub forecast_source: String,
    /// Why the forecast API was not used, when it is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_error: Option<String>,
    pub expected_g_per_kwh: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now_g_per_kwh: Option<f64>,
    /// The job's estimated energy (instance energy at CCF's default utilisation), and the kgCO2e the
    /// chosen start avoids against starting at once; `None` when the instance type is not modelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_kwh: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avoided_kg_co2e: Option<f64>,
    pub reason: String,
    /// The contract's `regions`, best first (report only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionOption>,
}

/// What a job brings to the decision.
#[derive(Debug, Clone)]
pub struct Job {
    pub duration_seconds: i64,
    pub duration_basis: String,
    /// Energy of the whole run, kWh, when the instance type is modelled.
    pub kwh: Option<f64>,
}

/// Decide when `job` starts: `now` and `started` in Unix seconds.
pub fn decide(
    section: &ScheduleSection,
    forecast: &Forecast,
    forecast_error: Option<String>,
    job: &Job,
    now: i64,
    started: i64,
) -> Decision {
    let deadline = section.deadline(started);
    let latest_start = deadline - job.duration_seconds;
    let choice = best_start(forecast, now, latest_start, job.duration_seconds);
    let avoided = match (job.kwh, choice.now_g_per_kwh) {
        (Some(kwh), Some(now_g)) => Some(kwh * (now_g - choice.expected_g_per_kwh) / 1000.0),
        _ => None,
    };
    let reason = if latest_start <= now {
        "the deadline leaves no room to wait: starting now".to_string()
    } else if choice.start == now {
        "no window before the deadline is cleaner than starting now".to_string()
    } else {
        format!(
            "the lowest-carbon window before the deadline starts at {} ({:.0} gCO2e/kWh expected against {} now)",
            format_time(choice.start),
            choice.expected_g_per_kwh,
            choice
                .now_g_per_kwh
                .map_or_else(|| "unknown".to_string(), |g| format!("{g:.0}"))
        )
    };
    Decision {
        start_at: format_time(choice.start),
        wait_seconds: choice.start - now,
        deadline: format_time(deadline),
        duration_seconds: job.duration_seconds,
        duration_basis: job.duration_basis.clone(),
        forecast_source: forecast.source.clone(),
        forecast_error,
        expected_g_per_kwh: choice.expected_g_per_kwh,
        now_g_per_kwh: choice.now_g_per_kwh,
        estimated_kwh: job.kwh,
        avoided_kg_co2e: avoided,
        reason,
        regions: Vec::new(),
    }
}

/// The job in another region the data may move to (report only).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionOption {
    pub region: String,
    /// The job's operational emissions there and here (annual grid factors), kgCO2e.
    pub job_kg_co2e: f64,
    pub here_kg_co2e: f64,
    /// Moving the data there once: kgCO2e and $ (CCF's networking energy, the inter-region price).
    pub move_kg_co2e: f64,
    pub move_usd: f64,
    /// `here - there - move`: positive when moving would pay off for this one run.
    pub net_avoided_kg_co2e: f64,
}

/// Each candidate region with what the job would emit there, the move included; `factor` gives a
/// region's kgCO2e/kWh and `transfer` the move's (kgCO2e, $), `None` for what is not modelled (left out).
pub fn compare_regions(
    kwh: f64,
    here: &str,
    candidates: &[String],
    factor: impl Fn(&str) -> Option<f64>,
    transfer: impl Fn(&str) -> Option<(f64, f64)>,
) -> Vec<RegionOption> {
    let Some(here_factor) = factor(here) else {
        return Vec::new();
    };
    let mut out: Vec<RegionOption> = candidates
        .iter()
        .filter(|r| r.as_str() != here)
        .filter_map(|r| {
            let there = factor(r)?;
            let (move_kg, move_usd) = transfer(r)?;
            let job = kwh * there;
            let here_kg = kwh * here_factor;
            Some(RegionOption {
                region: r.clone(),
                job_kg_co2e: job,
                here_kg_co2e: here_kg,
                move_kg_co2e: move_kg,
                move_usd,
                net_avoided_kg_co2e: here_kg - job - move_kg,
            })
        })
        .collect();
    out.sort_by(|a, b| b.net_avoided_kg_co2e.total_cmp(&a.net_avoided_kg_co2e));
    out
}

/// Hours a forecast must cover for a job that may start until `deadline`.
pub fn hours_needed(now: i64, deadline: i64) -> usize {
    (((deadline.max(now) - floor_hour(now)) + HOUR - 1) / HOUR + 1) as usize
}

/// RFC 3339 with whole seconds and `Z`, as Step Functions' Wait reads it.
pub fn format_time(unix_seconds: i64) -> String {
    crate::validate::values::format_timestamp(unix_seconds.saturating_mul(1_000_000))
}

/// An RFC 3339 time (the execution's `$$` times) as Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    crate::validate::values::parse_timestamp(s.as_bytes()).map(|m| m.div_euclid(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-12-08T00:00:00Z.
    const MIDNIGHT: i64 = 1_796_688_000;

    fn profile() -> Profile {
        // High in the evening, lowest at 03:00-04:00 UTC.
        let mut g = vec![300.0; 24];
        g[2] = 200.0;
        g[3] = 100.0;
        g[4] = 150.0;
        g[18] = 500.0;
        Profile {
            source: "test profile".into(),
            g_per_kwh: g,
        }
    }

    fn section(deadline_hours: f64) -> ScheduleSection {
        ScheduleSection {
            deadline_hours,
            transform_hours: 1.0,
            profile: Some(profile()),
            regions: Vec::new(),
        }
    }

    #[test]
    fn the_time_helpers_round_trip_whole_seconds() {
        assert_eq!(format_time(MIDNIGHT), "2026-12-08T00:00:00Z");
        assert_eq!(parse_time("2026-12-08T00:00:00Z"), Some(MIDNIGHT));
        assert_eq!(parse_time("2026-12-08T01:30:00.250Z"), Some(MIDNIGHT + 5400));
        assert_eq!(format_time(MIDNIGHT + 3 * HOUR + 7), "2026-12-08T03:00:07Z");
    }

    #[test]
    fn the_mean_weighs_each_hour_by_the_time_spent_in_it() {
        let f = Forecast::from_profile(&profile(), MIDNIGHT, 24);
        // 02:30-03:30: half an hour at 200, half at 100.
        assert_eq!(f.mean(MIDNIGHT + 2 * HOUR + 1800, HOUR), Some(150.0));
        // 02:00-05:00: (200 + 100 + 150) / 3.
        assert_eq!(f.mean(MIDNIGHT + 2 * HOUR, 3 * HOUR), Some(150.0));
        // Past the end: unknown.
        assert_eq!(f.mean(MIDNIGHT + 23 * HOUR + 1, HOUR), None);
    }

    #[test]
    fn a_one_hour_job_waits_for_the_cleanest_hour_before_its_deadline() {
        // Now 00:20; deadline 12 h after a start at 00:00; one-hour job: 03:00 (100 g) wins.
        let now = MIDNIGHT + 1200;
        let f = Forecast::from_profile(&profile(), now, hours_needed(now, MIDNIGHT + 12 * HOUR));
        let job = Job {
            duration_seconds: HOUR,
            duration_basis: "test".into(),
            kwh: Some(2.0),
        };
        let d = decide(&section(12.0), &f, None, &job, now, MIDNIGHT);
        assert_eq!(d.start_at, "2026-12-08T03:00:00Z");
        assert_eq!(d.wait_seconds, 3 * HOUR - 1200);
        assert_eq!(d.expected_g_per_kwh, 100.0);
        assert_eq!(d.now_g_per_kwh, Some(300.0));
        // 2 kWh x (300 - 100) g/kWh = 0.4 kg.
        assert!((d.avoided_kg_co2e.unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(d.deadline, "2026-12-08T12:00:00Z");
    }

    #[test]
    fn a_two_hour_job_takes_the_cleanest_two_hours() {
        // 02:00-04:00 averages 150, 03:00-05:00 averages 125: 03:00.
        let f = Forecast::from_profile(&profile(), MIDNIGHT, 30);
        let c = best_start(&f, MIDNIGHT, MIDNIGHT + 10 * HOUR, 2 * HOUR);
        assert_eq!(c.start, MIDNIGHT + 3 * HOUR);
        assert_eq!(c.expected_g_per_kwh, 125.0);
    }

    #[test]
    fn the_window_must_end_before_the_deadline() {
        // Deadline 03:30 for a one-hour job: latest start 02:30, so 02:00 (200 g) is the best.
        let f = Forecast::from_profile(&profile(), MIDNIGHT, 24);
        let job = Job {
            duration_seconds: HOUR,
            duration_basis: "test".into(),
            kwh: None,
        };
        let d = decide(&section(3.5), &f, None, &job, MIDNIGHT, MIDNIGHT);
        assert_eq!(d.start_at, "2026-12-08T02:00:00Z");
        assert_eq!(d.avoided_kg_co2e, None);
        // No room at all: now.
        let d = decide(&section(1.0), &f, None, &job, MIDNIGHT + 600, MIDNIGHT);
        assert_eq!(d.wait_seconds, 0);
        assert!(d.reason.contains("no room"), "{}", d.reason);
    }

    #[test]
    fn a_flat_forecast_never_waits() {
        let f = Forecast::flat("flat".into(), 379.069, MIDNIGHT, 48);
        let c = best_start(&f, MIDNIGHT + 60, MIDNIGHT + 40 * HOUR, HOUR);
        assert_eq!(c.start, MIDNIGHT + 60);
        assert!((c.expected_g_per_kwh - 379.069).abs() < 1e-9);
    }

    #[test]
    fn provider_points_become_consecutive_hours_and_a_gap_ends_them() {
        let body = json!({"zone": "DE", "forecast": [
            {"carbonIntensity": 310, "datetime": "2026-12-08T01:00:00.000Z"},
            {"carbonIntensity": 300, "datetime": "2026-12-08T00:00:00.000Z"},
            {"carbonIntensity": 305, "datetime": "2026-12-08T00:00:00.000Z"},
            {"carbonIntensity": 120, "datetime": "2026-12-08T02:00:00.000Z"},
            {"carbonIntensity": 90, "datetime": "2026-12-08T05:00:00.000Z"}
        ]});
        let f = parse_forecast(body.to_string().as_bytes(), "api".into()).unwrap();
        assert_eq!(f.start, MIDNIGHT);
        assert_eq!(f.g_per_kwh, vec![300.0, 310.0, 120.0]);
        // Before the forecast's start the first hour holds.
        assert_eq!(f.mean(MIDNIGHT - 1800, 1800), Some(300.0));
        assert!(parse_forecast(b"{\"forecast\": []}", "api".into()).is_err());
        assert!(parse_forecast(b"<html>", "api".into()).is_err());
    }

    #[test]
    fn the_section_is_checked() {
        let ok = ScheduleSection::from_value(&json!({"deadline_hours": 6}), "c.yaml").unwrap();
        assert!(ok.regions.is_empty());
        assert_eq!(
            (ok.deadline_hours, ok.transform_hours, ok.profile),
            (6.0, 1.0, None)
        );
        for bad in [
            json!({"deadline_hours": 0}),
            json!({"deadline_hours": 1000}),
            json!({"deadline_hours": 2, "transform_hours": 3}),
            json!({"deadline_hours": 2, "profile": {"source": "x", "g_per_kwh": [1, 2]}}),
            json!({"deadline_hours": 2, "profile": {"source": " ", "g_per_kwh": vec![1; 24]}}),
            json!({"deadline_hours": 2, "start": "now"}),
        ] {
            let e = ScheduleSection::from_value(&bad, "c.yaml").unwrap_err();
            assert!(e.to_string().contains("schedule:"), "{e}");
        }
    }

    #[test]
    fn regions_are_compared_with_the_move_counted_and_the_best_first() {
        let factor = |r: &str| match r {
            "here" => Some(0.4),
            "clean" => Some(0.01),
            "dirty" => Some(0.7),
            _ => None,
        };
        let transfer = |r: &str| (r != "unknown").then_some((0.05, 2.0));
        let candidates = ["dirty", "clean", "unknown", "here"].map(String::from);
        let options = compare_regions(10.0, "here", &candidates, factor, transfer);
        let names: Vec<&str> = options.iter().map(|o| o.region.as_str()).collect();
        assert_eq!(names, ["clean", "dirty"]);
        // 10 kWh: 4 kg here, 0.1 kg there, 0.05 kg to move: 3.85 kg avoided.
        assert!((options[0].net_avoided_kg_co2e - 3.85).abs() < 1e-12);
        assert!(options[1].net_avoided_kg_co2e < 0.0);
        assert!(compare_regions(10.0, "nowhere", &candidates, factor, transfer).is_empty());
    }

    #[test]
    fn every_region_with_a_grid_factor_maps_to_a_zone_or_is_known_to_have_none() {
        assert_eq!(zone_for_region("eu-west-2"), Some("GB"));
        assert_eq!(zone_for_region("mars-1"), None);
    }
}
