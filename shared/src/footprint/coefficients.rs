//! The coefficient table: one versioned JSON file (`coefficients.json`, next to this file) embedded at
//! compile time and parsed once. Every block carries its `source`; the estimate functions only read it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::FootprintError;

const COEFFICIENTS_JSON: &str = include_str!("coefficients.json");

static COEFFICIENTS: LazyLock<Result<Coefficients, String>> = LazyLock::new(|| {
    let parsed: Coefficients = serde_json::from_str(COEFFICIENTS_JSON).map_err(|e| e.to_string())?;
    parsed.check()?;
    Ok(parsed)
});

/// The embedded coefficient table. Fails only if `coefficients.json` is malformed, which the unit tests
/// rule out for every build.
pub fn coefficients() -> Result<&'static Coefficients, FootprintError> {
    COEFFICIENTS
        .as_ref()
        .map_err(|message| FootprintError::Coefficients(message.clone()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coefficients {
    pub version: String,
    pub date: String,
    /// The region every price in the table is for.
    pub price_region: String,
    pub note: String,
    pub energy: EnergyCoefficients,
    pub processors: Processors,
    pub gpus: Gpus,
    pub grid: Grid,
    pub sagemaker: SageMakerPrices,
    pub lambda: LambdaPrices,
    pub step_functions: StepFunctionsPrices,
    pub embodied: Embodied,
    pub storage: StorageEnergy,
    pub s3: S3Prices,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyCoefficients {
    pub source: String,
    pub default_cpu_utilisation: f64,
    pub memory_kwh_per_gb_hour: f64,
    pub pue: f64,
    /// The processor family used when the hardware is not known (CCF's AWS average).
    pub unknown_processor: String,
}

/// Idle and full-load watts: per vCPU for processors, per device for GPUs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watts {
    pub min_watts: f64,
    pub max_watts: f64,
    /// Why a value is a stand-in (e.g. Graviton3 uses Graviton2's figures).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processors {
    pub source: String,
    pub families: BTreeMap<String, Watts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpus {
    pub source: String,
    pub models: BTreeMap<String, Watts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub source: String,
    pub unit: String,
    /// kgCO2e per kWh by AWS region code.
    pub regions: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SageMakerPrices {
    pub source: String,
    pub instance_types: BTreeMap<String, InstanceType>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceType {
    pub vcpus: u32,
    pub memory_gib: f64,
    /// Processor families (keys of `processors.families`); several are averaged, as CCF does.
    pub cpu: Vec<String>,
    #[serde(default)]
    pub gpu: Option<GpuSpec>,
    /// Hardware whose energy the model cannot count (e.g. Inferentia), said in every estimate.
    #[serde(default)]
    pub unmodelled: Option<String>,
    pub usd_per_hour: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// A key of `gpus.models`.
    pub model: String,
    pub count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaPrices {
    pub source: String,
    /// Memory that buys one vCPU. 1,769 MB is AWS's figure ("at 1,769 MB, a function has the equivalent of
    /// one vCPU", Lambda developer guide); CCF's methodology uses 1,792 MB. greenpipe uses AWS's figure,
    /// so vCPUs = memory MB / 1769 (about 1 % more CPU energy than CCF would count).
    pub mb_per_vcpu: f64,
    pub usd_per_request: f64,
    pub arm64: LambdaArchPrice,
    pub x86_64: LambdaArchPrice,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaArchPrice {
    pub usd_per_gb_second: f64,
    /// Processor family for the energy model: Graviton2 for arm64; the AWS average for x86_64 (the
    /// hardware is not published), which is also what CCF uses for every Lambda function.
    pub cpu: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFunctionsPrices {
    pub source: String,
    pub usd_per_state_transition: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Prices {
    pub source: String,
    pub standard_usd_per_gb_month: f64,
    pub usd_per_put_request: f64,
    pub usd_per_get_request: f64,
}

/// Manufacturing emissions of the hosts behind SageMaker instance families (CCF's embodied emissions).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Embodied {
    pub source: String,
    /// Expected server lifespan (CCF: 4 years).
    pub lifespan_hours: f64,
    /// By instance family (`m5` for `ml.m5.xlarge`).
    pub families: BTreeMap<String, HostEmbodied>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEmbodied {
    /// Total manufacturing emissions of one host, kgCO2e.
    pub host_kg_co2e: f64,
    /// vCPUs of the whole host, among which its emissions are shared.
    pub host_vcpus: u32,
    /// How a figure not in CCF's table was derived.
    #[serde(default)]
    pub note: Option<String>,
}

/// Energy of stored and moved data (CCF's storage and networking coefficients).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageEnergy {
    pub source: String,
    pub s3_wh_per_tb_hour: f64,
    pub s3_replication_factor: f64,
    pub hours_per_month: f64,
    pub network_kwh_per_gb: f64,
    pub inter_region_usd_per_gb: f64,
}

/// Mean min/max watts of a group of processor families, with a label for reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CpuWatts {
    pub label: String,
    pub min_watts: f64,
    pub max_watts: f64,
    pub notes: Vec<String>,
}

impl Coefficients {
    /// Grid emission factor (kgCO2e/kWh) of an AWS region.
    pub fn grid_factor(&self, region: &str) -> Result<f64, FootprintError> {
        self.grid
            .regions
            .get(region)
            .copied()
            .ok_or_else(|| FootprintError::UnknownRegion(region.to_string()))
    }

    pub fn instance_type(&self, name: &str) -> Result<&InstanceType, FootprintError> {
        self.sagemaker
            .instance_types
            .get(name)
            .ok_or_else(|| FootprintError::UnknownInstanceType(name.to_string()))
    }

    /// The embodied-emissions entry of an instance type's family (`ml.m5.xlarge` → `m5`), if listed.
    pub fn embodied_family(&self, instance_type: &str) -> Option<(&str, &HostEmbodied)> {
        let family = instance_type.strip_prefix("ml.")?.split('.').next()?;
        self.embodied
            .families
            .get_key_value(family)
            .map(|(k, v)| (k.as_str(), v))
    }

    pub fn gpu(&self, model: &str) -> Result<&Watts, FootprintError> {
        self.gpus
            .models
            .get(model)
            .ok_or_else(|| FootprintError::Coefficients(format!("unknown GPU model {model:?}")))
    }

    /// CCF averages the min and max watts of the families an instance type may run on. (CCF takes the
    /// median instead when Sandy or Ivy Bridge is in the group; no type in our table mixes those.)
    pub(crate) fn cpu_watts(&self, families: &[String]) -> Result<CpuWatts, FootprintError> {
        if families.is_empty() {
            return Err(FootprintError::Coefficients("empty processor family list".into()));
        }
        let mut min_sum = 0.0;
        let mut max_sum = 0.0;
        let mut notes = Vec::new();
        for name in families {
            let watts =
                self.processors.families.get(name).ok_or_else(|| {
                    FootprintError::Coefficients(format!("unknown processor family {name:?}"))
                })?;
            min_sum += watts.min_watts;
            max_sum += watts.max_watts;
            if let Some(note) = &watts.note {
                notes.push(format!("{name}: {note}"));
            }
        }
        let n = families.len() as f64;
        let label = if families.len() == 1 {
            families[0].clone()
        } else {
            format!("mean of {}", families.join(", "))
        };
        Ok(CpuWatts {
            label,
            min_watts: min_sum / n,
            max_watts: max_sum / n,
            notes,
        })
    }

    /// Internal consistency, checked once at load: a table that references an unknown family, GPU or
    /// region, or holds a non-positive factor, is rejected rather than silently estimating zero.
    fn check(&self) -> Result<(), String> {
        let e = &self.energy;
        if !(0.0..=1.0).contains(&e.default_cpu_utilisation) {
            return Err("energy.default_cpu_utilisation must be within 0..=1".into());
        }
        positive("energy.memory_kwh_per_gb_hour", e.memory_kwh_per_gb_hour)?;
        if !(e.pue.is_finite() && e.pue >= 1.0) {
            return Err("energy.pue must be >= 1".into());
        }
        for (table, entries) in [
            ("processor", &self.processors.families),
            ("GPU", &self.gpus.models),
        ] {
            for (name, w) in entries {
                positive(&format!("{table} {name} min_watts"), w.min_watts)?;
                if !(w.max_watts.is_finite() && w.max_watts >= w.min_watts) {
                    return Err(format!("{table} {name}: max_watts must be >= min_watts"));
                }
            }
        }
        for (region, factor) in &self.grid.regions {
            positive(&format!("grid factor of {region}"), *factor)?;
        }
        self.grid_factor(&self.price_region).map_err(|e| e.to_string())?;
        let family = |name: &str| -> Result<(), String> {
            match self.processors.families.contains_key(name) {
                true => Ok(()),
                false => Err(format!("unknown processor family {name:?}")),
            }
        };
        family(&e.unknown_processor)?;
        family(&self.lambda.arm64.cpu)?;
        family(&self.lambda.x86_64.cpu)?;
        for (name, t) in &self.sagemaker.instance_types {
            if t.vcpus == 0 || t.cpu.is_empty() {
                return Err(format!(
                    "{name}: needs vcpus > 0 and at least one processor family"
                ));
            }
            positive(&format!("{name} memory_gib"), t.memory_gib)?;
            positive(&format!("{name} usd_per_hour"), t.usd_per_hour)?;
            for f in &t.cpu {
                family(f).map_err(|m| format!("{name}: {m}"))?;
            }
            if let Some(gpu) = &t.gpu {
                if gpu.count == 0 || !self.gpus.models.contains_key(&gpu.model) {
                    return Err(format!("{name}: unknown GPU model {:?} or zero count", gpu.model));
                }
            }
        }
        positive("embodied.lifespan_hours", self.embodied.lifespan_hours)?;
        for (family, host) in &self.embodied.families {
            positive(&format!("embodied {family} host_kg_co2e"), host.host_kg_co2e)?;
            if host.host_vcpus == 0 {
                return Err(format!("embodied {family}: host_vcpus must be > 0"));
            }
        }
        for (name, t) in &self.sagemaker.instance_types {
            match self.embodied_family(name) {
                Some((family, host)) if host.host_vcpus < t.vcpus => {
                    return Err(format!(
                        "{name}: more vCPUs than its host ({family}: {})",
                        host.host_vcpus
                    ))
                }
                Some(_) => {}
                None => return Err(format!("{name}: no embodied-emissions entry for its family")),
            }
        }
        let st = &self.storage;
        positive("storage.s3_wh_per_tb_hour", st.s3_wh_per_tb_hour)?;
        positive("storage.s3_replication_factor", st.s3_replication_factor)?;
        positive("storage.hours_per_month", st.hours_per_month)?;
        positive("storage.network_kwh_per_gb", st.network_kwh_per_gb)?;
        positive("storage.inter_region_usd_per_gb", st.inter_region_usd_per_gb)?;
        positive("lambda.mb_per_vcpu", self.lambda.mb_per_vcpu)?;
        positive("lambda.usd_per_request", self.lambda.usd_per_request)?;
        positive(
            "lambda.arm64.usd_per_gb_second",
            self.lambda.arm64.usd_per_gb_second,
        )?;
        positive(
            "lambda.x86_64.usd_per_gb_second",
            self.lambda.x86_64.usd_per_gb_second,
        )?;
        positive(
            "step_functions.usd_per_state_transition",
            self.step_functions.usd_per_state_transition,
        )?;
        positive("s3.standard_usd_per_gb_month", self.s3.standard_usd_per_gb_month)?;
        positive("s3.usd_per_put_request", self.s3.usd_per_put_request)?;
        positive("s3.usd_per_get_request", self.s3.usd_per_get_request)?;
        Ok(())
    }
}

fn positive(what: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!("{what} must be a positive number, got {value}"))
    }
}
