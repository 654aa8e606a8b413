//! Footprint model: dollars, kilowatt-hours and kilograms of CO2e for the AWS resources a pipeline run
//! uses. Pure arithmetic over one versioned coefficient table (`coefficients.json`); no AWS calls.
//!
//! Energy follows Cloud Carbon Footprint (CCF):
//!
//! ```text
//! kWh = ( (min + u × (max − min)) W × vCPUs × hours / 1000      processors, per vCPU
//!       + memory GB × hours × 0.000392                           memory
//!       + (min + u × (max − min)) W × GPUs × hours / 1000 )      GPUs, per device
//!       × PUE 1.135
//! kgCO2e = kWh × grid factor of the region
//! ```
//!
//! with u the CPU utilisation (CCF's default 50 % unless the caller measured it; GPUs use the same u).
//!
//! Beyond compute, also after CCF: the embodied share of an instance's host (`host kgCO2e × instance-hours
//! / 4 years × vCPUs / host vCPUs`, kept apart from operational emissions), S3 storage (0.65 Wh per
//! TB-hour, HDD, three replicas) and data moved between regions (0.001 kWh per GB; zero within a
//! region).
//! One deliberate simplification: CCF adds memory energy for AWS instances only above the memory its
//! SPECpower rows already include; we count all configured memory (and Lambda memory, which CCF leaves
//! out), so our figures are a little higher than CCF's. Lambda vCPUs are memory MB / 1769 (AWS's figure;
//! CCF uses 1792). Cost uses public us-east-1 on-demand prices. Every [`Estimate`] says which
//! coefficients it used so reports can explain their numbers.

mod coefficients;
mod emf;
#[cfg(test)]
mod tests;

use std::iter::Sum;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

pub use coefficients::{
    coefficients, Coefficients, Embodied, EnergyCoefficients, GpuSpec, Gpus, Grid, HostEmbodied,
    InstanceType, LambdaArchPrice, LambdaPrices, Processors, S3Prices, SageMakerPrices, StepFunctionsPrices,
    StorageEnergy, Watts,
};
pub use emf::{
    emf_line, footprint_emf_line, unix_millis_now, EmfMetric, EmfUnit, METRIC_CARBON, METRIC_COST,
    METRIC_EMBODIED, METRIC_ENERGY, METRIC_INSTANCE_HOURS, NAMESPACE,
};

use coefficients::CpuWatts;

/// Errors of the footprint model. Converts into [`crate::Error::Config`]: an unknown instance type or
/// region is a configuration the table does not cover.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FootprintError {
    #[error("unknown SageMaker instance type {0:?}: not in the footprint coefficient table")]
    UnknownInstanceType(String),
    #[error("no grid emission factor for region {0:?}: Cloud Carbon Footprint does not list it")]
    UnknownRegion(String),
    #[error("invalid footprint input: {0}")]
    InvalidInput(String),
    #[error("footprint coefficient table is invalid: {0}")]
    Coefficients(String),
    #[error("invalid EMF metric line: {0}")]
    Emf(String),
}

impl From<FootprintError> for crate::Error {
    fn from(e: FootprintError) -> Self {
        crate::Error::Config(e.to_string())
    }
}

type Result<T, E = FootprintError> = std::result::Result<T, E>;

/// Cost, energy and emissions of something that ran. Add them up for a stage or a whole run.
/// `kg_co2e` is operational (the energy times the grid factor); `embodied_kg_co2e` is the share of the
/// hardware's manufacturing emissions (instances only), kept apart as CCF and the GHG Protocol do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    pub usd: f64,
    pub kwh: f64,
    pub kg_co2e: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub embodied_kg_co2e: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Add for Footprint {
    type Output = Footprint;
    fn add(self, o: Footprint) -> Footprint {
        Footprint {
            usd: self.usd + o.usd,
            kwh: self.kwh + o.kwh,
            kg_co2e: self.kg_co2e + o.kg_co2e,
            embodied_kg_co2e: self.embodied_kg_co2e + o.embodied_kg_co2e,
        }
    }
}

impl AddAssign for Footprint {
    fn add_assign(&mut self, o: Footprint) {
        *self = *self + o;
    }
}

impl Sum for Footprint {
    fn sum<I: Iterator<Item = Footprint>>(iter: I) -> Footprint {
        iter.fold(Footprint::default(), Add::add)
    }
}

impl<'a> Sum<&'a Footprint> for Footprint {
    fn sum<I: Iterator<Item = &'a Footprint>>(iter: I) -> Footprint {
        iter.copied().sum()
    }
}

/// Lambda instruction set architecture (the `Architectures` value of a function).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arch {
    #[serde(rename = "arm64")]
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

/// A footprint and how it was obtained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub footprint: Footprint,
    pub basis: Basis,
}

/// The coefficients behind an [`Estimate`], for reports to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Basis {
    /// `version` of the coefficient table.
    pub coefficients_version: String,
    /// What was estimated, e.g. `2 × ml.m5.xlarge`.
    pub subject: String,
    /// How the cost was computed, e.g. `$0.23 per instance-hour × 1.2 instance-hours billed`.
    pub price: String,
    /// Energy model inputs; `None` where energy is not modelled (Step Functions, S3 requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<ComputeBasis>,
    /// How the embodied share was computed (instances only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embodied: Option<EmbodiedBasis>,
    /// Stand-ins, unmodelled hardware and other caveats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// CCF's `M = TE × (TR / EL) × (RR / total)` with its inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbodiedBasis {
    /// Instance family whose host it is.
    pub family: String,
    /// TE: manufacturing emissions of one host, kgCO2e.
    pub host_kg_co2e: f64,
    /// Total resources: the host's vCPUs.
    pub host_vcpus: u32,
    /// RR: the instance's vCPUs.
    pub vcpus: u32,
    /// TR: instance-hours.
    pub hours: f64,
    /// EL: expected lifespan, hours.
    pub lifespan_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComputeBasis {
    pub region: String,
    pub grid_kg_co2e_per_kwh: f64,
    pub pue: f64,
    pub cpu_utilisation: f64,
    /// Processor family (or `mean of …`) whose watts were used.
    pub processor: String,
    pub min_watts_per_vcpu: f64,
    pub max_watts_per_vcpu: f64,
    /// vCPUs of one instance (a fraction for Lambda: memory MB / 1769).
    pub vcpus: f64,
    /// Memory of one instance or function, GB.
    pub memory_gb: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuBasis>,
    /// SageMaker instances; `None` for Lambda.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_count: Option<u32>,
    /// Running time summed over instances (instance-hours) or over invocations, hours.
    pub hours: f64,
    /// Energy before PUE by component, kWh.
    pub cpu_kwh: f64,
    pub memory_kwh: f64,
    pub gpu_kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuBasis {
    pub model: String,
    /// GPUs per instance.
    pub count: u32,
    pub min_watts: f64,
    pub max_watts: f64,
}

/// A training job: the estimate (cost from billable seconds, energy from training seconds) and what
/// managed spot training saved against on-demand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingEstimate {
    pub estimate: Estimate,
    /// What the same training time would have cost on demand.
    pub on_demand_usd: f64,
    /// `on_demand_usd − estimate.footprint.usd`; 0 without spot, negative if more was billed than trained.
    pub spot_savings_usd: f64,
    /// `spot_savings_usd / on_demand_usd` (0 when nothing ran).
    pub spot_savings_fraction: f64,
}

impl Estimate {
    /// Instance-hours for SageMaker estimates, `None` for Lambda and price-only estimates.
    pub fn instance_hours(&self) -> Option<f64> {
        self.basis
            .compute
            .as_ref()
            .filter(|c| c.instance_count.is_some())
            .map(|c| c.hours)
    }
}

/// One Lambda invocation of `duration_ms` billed milliseconds (request charge included).
pub fn lambda_invocation(arch: Arch, memory_mb: u32, duration_ms: u64, region: &str) -> Result<Estimate> {
    lambda_invocations(arch, memory_mb, 1, duration_ms, region)
}

/// `invocations` Lambda invocations whose billed durations add up to `total_billed_ms`.
pub fn lambda_invocations(
    arch: Arch,
    memory_mb: u32,
    invocations: u64,
    total_billed_ms: u64,
    region: &str,
) -> Result<Estimate> {
    if !(128..=10_240).contains(&memory_mb) {
        return Err(FootprintError::InvalidInput(format!(
            "Lambda memory must be 128..=10240 MB, got {memory_mb}"
        )));
    }
    let c = coefficients()?;
    let price = match arch {
        Arch::Arm64 => &c.lambda.arm64,
        Arch::X86_64 => &c.lambda.x86_64,
    };
    let memory_gb = f64::from(memory_mb) / 1024.0;
    let seconds = total_billed_ms as f64 / 1000.0;
    let gb_seconds = memory_gb * seconds;
    let usd = invocations as f64 * c.lambda.usd_per_request + gb_seconds * price.usd_per_gb_second;

    let cpu = c.cpu_watts(std::slice::from_ref(&price.cpu))?;
    // AWS: one vCPU per 1,769 MB (CCF: 1,792 MB); see `LambdaPrices::mb_per_vcpu`.
    let vcpus = f64::from(memory_mb) / c.lambda.mb_per_vcpu;
    let utilisation = c.energy.default_cpu_utilisation;
    let mut notes = cpu.notes.clone();
    notes.push(format!(
        "vCPUs = {memory_mb} MB / {} MB per vCPU (AWS's figure)",
        c.lambda.mb_per_vcpu
    ));
    notes.extend(price_region_note(c, region));
    let (compute, energy) = compute_energy(
        c,
        region,
        utilisation,
        cpu,
        vcpus,
        memory_gb,
        None,
        seconds / 3600.0,
    )?;
    let arch_name = match arch {
        Arch::Arm64 => "arm64",
        Arch::X86_64 => "x86_64",
    };
    Ok(Estimate {
        footprint: Footprint { usd, ..energy },
        basis: Basis {
            coefficients_version: c.version.clone(),
            subject: format!(
                "{invocations} × Lambda {arch_name} {memory_mb} MB, {total_billed_ms} ms billed"
            ),
            price: format!(
                "${} per request × {invocations} + ${} per GB-second × {gb_seconds} GB-s ({} list price)",
                c.lambda.usd_per_request, price.usd_per_gb_second, c.price_region
            ),
            compute: Some(compute),
            embodied: None,
            notes,
        },
    })
}

/// A SageMaker training job. `training_seconds` is how long the instances ran (energy);
/// `billable_seconds` is what was charged (cost) — lower with managed spot training. Both are per
/// instance, as `DescribeTrainingJob` reports them. `cpu_utilisation` defaults to CCF's 50 %.
pub fn training_job(
    instance_type: &str,
    instance_count: u32,
    training_seconds: f64,
    billable_seconds: f64,
    region: &str,
    cpu_utilisation: Option<f64>,
) -> Result<TrainingEstimate> {
    let mut estimate = instance_usage(
        instance_type,
        instance_count,
        training_seconds,
        billable_seconds,
        region,
        cpu_utilisation,
    )?;
    let c = coefficients()?;
    let hourly = c.instance_type(instance_type)?.usd_per_hour;
    let on_demand_usd = hourly * f64::from(instance_count) * training_seconds / 3600.0;
    let spot_savings_usd = on_demand_usd - estimate.footprint.usd;
    let spot_savings_fraction = if on_demand_usd > 0.0 {
        spot_savings_usd / on_demand_usd
    } else {
        0.0
    };
    if billable_seconds < training_seconds {
        estimate.basis.notes.push(format!(
            "managed spot: billed {billable_seconds} s of {training_seconds} s trained per instance, saving {:.0} %",
            spot_savings_fraction * 100.0
        ));
    }
    Ok(TrainingEstimate {
        estimate,
        on_demand_usd,
        spot_savings_usd,
        spot_savings_fraction,
    })
}

/// A batch transform job: `instance_count` instances for `seconds` each, at the default utilisation.
pub fn transform_job(
    instance_type: &str,
    instance_count: u32,
    seconds: f64,
    region: &str,
) -> Result<Estimate> {
    instance_usage(instance_type, instance_count, seconds, seconds, region, None)
}

/// A real-time endpoint variant: `instance_count` instances for `hours`, at the default utilisation.
pub fn endpoint_hours(
    instance_type: &str,
    instance_count: u32,
    hours: f64,
    region: &str,
) -> Result<Estimate> {
    let seconds = hours * 3600.0;
    instance_usage(instance_type, instance_count, seconds, seconds, region, None)
}

/// Any SageMaker instance usage (processing jobs, notebooks, …): energy from `running_seconds`, cost
/// from `billable_seconds`, both per instance.
pub fn instance_usage(
    instance_type: &str,
    instance_count: u32,
    running_seconds: f64,
    billable_seconds: f64,
    region: &str,
    cpu_utilisation: Option<f64>,
) -> Result<Estimate> {
    non_negative("running seconds", running_seconds)?;
    non_negative("billable seconds", billable_seconds)?;
    let c = coefficients()?;
    let t = c.instance_type(instance_type)?;
    let utilisation = match cpu_utilisation {
        Some(u) if (0.0..=1.0).contains(&u) => u,
        Some(u) => {
            return Err(FootprintError::InvalidInput(format!(
                "CPU utilisation must be within 0..=1, got {u}"
            )))
        }
        None => c.energy.default_cpu_utilisation,
    };
    let count = f64::from(instance_count);
    let instance_hours = count * running_seconds / 3600.0;
    let billed_hours = count * billable_seconds / 3600.0;

    let cpu = c.cpu_watts(&t.cpu)?;
    let mut notes = cpu.notes.clone();
    notes.extend(t.unmodelled.iter().map(|u| format!("{instance_type}: {u}")));
    notes.extend(price_region_note(c, region));
    let gpu = match &t.gpu {
        Some(spec) => Some((spec, c.gpu(&spec.model)?)),
        None => None,
    };
    let (mut compute, energy) = compute_energy(
        c,
        region,
        utilisation,
        cpu,
        f64::from(t.vcpus),
        t.memory_gib,
        gpu,
        instance_hours,
    )?;
    compute.instance_count = Some(instance_count);
    let embodied = c
        .embodied_family(instance_type)
        .map(|(family, host)| EmbodiedBasis {
            family: family.to_string(),
            host_kg_co2e: host.host_kg_co2e,
            host_vcpus: host.host_vcpus,
            vcpus: t.vcpus,
            hours: instance_hours,
            lifespan_hours: c.embodied.lifespan_hours,
        });
    if let Some(note) = c
        .embodied_family(instance_type)
        .and_then(|(_, h)| h.note.as_ref())
    {
        notes.push(format!("embodied: {note}"));
    }
    Ok(Estimate {
        footprint: Footprint {
            usd: t.usd_per_hour * billed_hours,
            embodied_kg_co2e: embodied.as_ref().map_or(0.0, EmbodiedBasis::kg_co2e),
            ..energy
        },
        basis: Basis {
            coefficients_version: c.version.clone(),
            subject: format!("{instance_count} × {instance_type}"),
            price: format!(
                "${} per instance-hour ({} on-demand) × {billed_hours} instance-hours billed",
                t.usd_per_hour, c.price_region
            ),
            compute: Some(compute),
            embodied,
            notes,
        },
    })
}

impl EmbodiedBasis {
    /// `TE × (TR / EL) × (RR / total)`.
    pub fn kg_co2e(&self) -> f64 {
        self.host_kg_co2e * (self.hours / self.lifespan_hours) * f64::from(self.vcpus)
            / f64::from(self.host_vcpus)
    }
}

/// Keeping `gb_months` of objects in S3 Standard in `region`: price, and CCF's storage energy (HDD,
/// replicated three times, with PUE). One GB-month is one GB kept for a month (730 hours).
pub fn s3_storage(gb_months: f64, region: &str) -> Result<Estimate> {
    non_negative("GB-months", gb_months)?;
    let c = coefficients()?;
    let st = &c.storage;
    let grid = c.grid_factor(region)?;
    let tb_hours = gb_months / 1000.0 * st.hours_per_month;
    let kwh = tb_hours * st.s3_wh_per_tb_hour / 1000.0 * st.s3_replication_factor * c.energy.pue;
    let mut notes = vec![format!(
        "{tb_hours} TB-hours x {} Wh per TB-hour (HDD) x replication {} x PUE {}",
        st.s3_wh_per_tb_hour, st.s3_replication_factor, c.energy.pue
    )];
    notes.extend(price_region_note(c, region));
    Ok(Estimate {
        footprint: Footprint {
            usd: gb_months * c.s3.standard_usd_per_gb_month,
            kwh,
            kg_co2e: kwh * grid,
            embodied_kg_co2e: 0.0,
        },
        basis: Basis {
            coefficients_version: c.version.clone(),
            subject: format!("S3 Standard: {gb_months} GB-months in {region}"),
            price: format!(
                "${} per GB-month ({} list price)",
                c.s3.standard_usd_per_gb_month, c.price_region
            ),
            compute: None,
            embodied: None,
            notes,
        },
    })
}

/// `gb` moved from `from_region` to `to_region`. CCF counts networking energy only between regions:
/// within one region (S3 to Lambda or SageMaker in the same region) this is zero in energy and price.
/// Carbon uses the sending region's grid factor.
pub fn data_transfer(gb: f64, from_region: &str, to_region: &str) -> Result<Estimate> {
    non_negative("GB transferred", gb)?;
    let c = coefficients()?;
    let st = &c.storage;
    let grid = c.grid_factor(from_region)?;
    let between = from_region != to_region;
    let counted = if between { gb } else { 0.0 };
    let kwh = counted * st.network_kwh_per_gb * c.energy.pue;
    let note = if between {
        format!(
            "{gb} GB x {} kWh per GB (CCF, between regions) x PUE {}",
            st.network_kwh_per_gb, c.energy.pue
        )
    } else {
        "within one region: CCF counts no networking energy and AWS charges nothing".to_string()
    };
    Ok(Estimate {
        footprint: Footprint {
            usd: counted * st.inter_region_usd_per_gb,
            kwh,
            kg_co2e: kwh * grid,
            embodied_kg_co2e: 0.0,
        },
        basis: Basis {
            coefficients_version: c.version.clone(),
            subject: format!("data transfer: {gb} GB from {from_region} to {to_region}"),
            price: format!(
                "${} per GB between regions, $0 within one",
                st.inter_region_usd_per_gb
            ),
            compute: None,
            embodied: None,
            notes: vec![note],
        },
    })
}

/// Step Functions Standard state transitions. Cost only: the service's energy is not modelled.
pub fn state_transitions(n: u64) -> Result<Estimate> {
    let c = coefficients()?;
    let per = c.step_functions.usd_per_state_transition;
    Ok(price_only(
        c,
        format!("{n} Step Functions Standard state transitions"),
        n as f64 * per,
        format!("${per} per state transition × {n}"),
    ))
}

/// S3 Standard storage and requests. Cost only: storage energy is not modelled.
pub fn s3_standard(gb_months: f64, put_requests: u64, get_requests: u64) -> Result<Estimate> {
    non_negative("GB-months", gb_months)?;
    let c = coefficients()?;
    let s3 = &c.s3;
    let usd = gb_months * s3.standard_usd_per_gb_month
        + put_requests as f64 * s3.usd_per_put_request
        + get_requests as f64 * s3.usd_per_get_request;
    Ok(price_only(
        c,
        format!("S3 Standard: {gb_months} GB-months, {put_requests} PUT, {get_requests} GET"),
        usd,
        format!(
            "${} per GB-month, ${} per PUT, ${} per GET",
            s3.standard_usd_per_gb_month, s3.usd_per_put_request, s3.usd_per_get_request
        ),
    ))
}

fn price_only(c: &Coefficients, subject: String, usd: f64, price: String) -> Estimate {
    Estimate {
        footprint: Footprint {
            usd,
            ..Footprint::default()
        },
        basis: Basis {
            coefficients_version: c.version.clone(),
            subject,
            price,
            compute: None,
            embodied: None,
            notes: vec!["energy not modelled: managed service without published hardware".into()],
        },
    }
}

/// CCF's formula; returns the inputs used and the footprint without cost.
#[allow(clippy::too_many_arguments)]
fn compute_energy(
    c: &Coefficients,
    region: &str,
    utilisation: f64,
    cpu: CpuWatts,
    vcpus: f64,
    memory_gb: f64,
    gpu: Option<(&GpuSpec, &Watts)>,
    hours: f64,
) -> Result<(ComputeBasis, Footprint)> {
    let grid = c.grid_factor(region)?;
    let pue = c.energy.pue;
    let average = |min: f64, max: f64| min + utilisation * (max - min);

    let cpu_kwh = average(cpu.min_watts, cpu.max_watts) * vcpus * hours / 1000.0;
    let memory_kwh = memory_gb * hours * c.energy.memory_kwh_per_gb_hour;
    let gpu_kwh = gpu.map_or(0.0, |(spec, w)| {
        average(w.min_watts, w.max_watts) * f64::from(spec.count) * hours / 1000.0
    });
    let kwh = (cpu_kwh + memory_kwh + gpu_kwh) * pue;
    let basis = ComputeBasis {
        region: region.to_string(),
        grid_kg_co2e_per_kwh: grid,
        pue,
        cpu_utilisation: utilisation,
        processor: cpu.label,
        min_watts_per_vcpu: cpu.min_watts,
        max_watts_per_vcpu: cpu.max_watts,
        vcpus,
        memory_gb,
        gpu: gpu.map(|(spec, w)| GpuBasis {
            model: spec.model.clone(),
            count: spec.count,
            min_watts: w.min_watts,
            max_watts: w.max_watts,
        }),
        instance_count: None,
        hours,
        cpu_kwh,
        memory_kwh,
        gpu_kwh,
    };
    let footprint = Footprint {
        usd: 0.0,
        kwh,
        kg_co2e: kwh * grid,
        embodied_kg_co2e: 0.0,
    };
    Ok((basis, footprint))
}

fn price_region_note(c: &Coefficients, region: &str) -> Option<String> {
    (region != c.price_region).then(|| format!("prices are {} list prices; {region} differs", c.price_region))
}

fn non_negative(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(FootprintError::InvalidInput(format!(
            "{what} must be a non-negative number, got {value}"
        )))
    }
}
