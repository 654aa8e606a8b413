//! Hand-computed examples (CCF method, coefficients.json 2026.12.1) checked to 3 significant digits,
//! plus the consistency of the table and the EMF shape.

use super::*;

/// `x` rounded to 3 significant digits, e.g. `1.83e-2`.
fn sig3(x: f64) -> String {
    format!("{x:.2e}")
}

// Shared constants of the examples:
//   PUE 1.135; memory 0.000392 kWh per GB-hour; us-east-1 grid 0.379069 kgCO2e/kWh (eGRID2020 SERC);
//   utilisation 50 %, so average watts = min + 0.5 × (max − min).

#[test]
fn lambda_arm64_512mb_one_second_us_east_1() {
    // vCPUs     = 512 / 1769                          = 0.289429
    // Graviton2 = 0.47 + 0.5 × (1.69 − 0.47)          = 1.08 W per vCPU
    // hours     = 1 / 3600                            = 2.77778e-4 h
    // CPU       = 1.08 × 0.289429 × 2.77778e-4 / 1000 = 8.68287e-8 kWh
    // memory    = 0.5 GB × 2.77778e-4 h × 0.000392    = 5.44444e-8 kWh
    // energy    = (8.68287e-8 + 5.44444e-8) × 1.135   = 1.60345e-7 kWh  → 1.60e-7
    // carbon    = 1.60345e-7 × 0.379069               = 6.07818e-8 kg   → 6.08e-8
    // cost      = $0.0000002 request + 0.5 GB-s × $0.0000133334 = $6.8667e-6 → 6.87e-6
    let e = lambda_invocation(Arch::Arm64, 512, 1000, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "1.60e-7");
    assert_eq!(sig3(e.footprint.kg_co2e), "6.08e-8");
    assert_eq!(sig3(e.footprint.usd), "6.87e-6");
    let c = e.basis.compute.as_ref().unwrap();
    assert_eq!(c.processor, "Graviton2");
    assert_eq!(sig3(c.vcpus), "2.89e-1");
    assert_eq!(e.instance_hours(), None);
}

#[test]
fn one_hour_of_ml_m5_xlarge_us_east_1() {
    // ml.m5.xlarge: 4 vCPUs, 16 GiB, Skylake (CCF's mapping for m5), $0.23/h
    // Skylake = 0.65 + 0.5 × (4.26 − 0.65)   = 2.455 W per vCPU
    // CPU     = 2.455 × 4 × 1 h / 1000        = 0.00982 kWh
    // memory  = 16 × 1 h × 0.000392           = 0.006272 kWh
    // energy  = (0.00982 + 0.006272) × 1.135  = 0.0182644 kWh → 1.83e-2
    // carbon  = 0.0182644 × 0.379069          = 0.00692348 kg → 6.92e-3
    // cost    = $0.23 × 1 h                   = $0.23
    let e = endpoint_hours("ml.m5.xlarge", 1, 1.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "1.83e-2");
    assert_eq!(sig3(e.footprint.kg_co2e), "6.92e-3");
    assert_eq!(sig3(e.footprint.usd), "2.30e-1");
    let c = e.basis.compute.as_ref().unwrap();
    assert_eq!(
        (c.processor.as_str(), c.vcpus, c.memory_gb),
        ("Skylake", 4.0, 16.0)
    );
    assert_eq!(sig3(c.cpu_kwh), "9.82e-3");
    assert_eq!(e.instance_hours(), Some(1.0));
    // A transform job of the same hour is the same estimate.
    assert_eq!(
        transform_job("ml.m5.xlarge", 1, 3600.0, "us-east-1")
            .unwrap()
            .footprint,
        e.footprint
    );
}

#[test]
fn spot_training_job_with_40_percent_billable_savings() {
    // 2 × ml.m5.xlarge, trained 3600 s, billed 2160 s per instance (40 % less than trained).
    // energy  = 2 × 0.0182644 (one instance-hour above)  = 0.0365288 kWh → 3.65e-2
    // carbon  = 0.0365288 × 0.379069                      = 0.0138470 kg  → 1.38e-2
    // billed  = $0.23 × 2 × 2160 / 3600                   = $0.276
    // on-demand $0.23 × 2 × 1 h = $0.46; savings 0.46 − 0.276 = $0.184 = 40 %
    let t = training_job("ml.m5.xlarge", 2, 3600.0, 2160.0, "us-east-1", None).unwrap();
    assert_eq!(sig3(t.estimate.footprint.kwh), "3.65e-2");
    assert_eq!(sig3(t.estimate.footprint.kg_co2e), "1.38e-2");
    assert_eq!(sig3(t.estimate.footprint.usd), "2.76e-1");
    assert_eq!(sig3(t.on_demand_usd), "4.60e-1");
    assert_eq!(sig3(t.spot_savings_usd), "1.84e-1");
    assert_eq!(sig3(t.spot_savings_fraction), "4.00e-1");
    assert_eq!(t.estimate.instance_hours(), Some(2.0));
    assert!(t.estimate.basis.notes.iter().any(|n| n.contains("managed spot")));

    // Without spot, billed = trained and nothing is saved.
    let on_demand = training_job("ml.m5.xlarge", 2, 3600.0, 3600.0, "us-east-1", None).unwrap();
    assert_eq!(on_demand.spot_savings_usd, 0.0);
    assert_eq!(on_demand.estimate.footprint.kwh, t.estimate.footprint.kwh);
}

#[test]
fn one_hour_of_ml_g4dn_xlarge_us_east_1() {
    // ml.g4dn.xlarge: 4 vCPUs Cascade Lake, 16 GiB, 1 × NVIDIA T4, $0.7364/h
    // Cascade Lake = 0.64 + 0.5 × (3.97 − 0.64)     = 2.305 W per vCPU → CPU 2.305 × 4 / 1000 = 0.00922 kWh
    // memory       = 16 × 0.000392                   = 0.006272 kWh
    // T4           = 8 + 0.5 × (71 − 8)              = 39.5 W → 0.0395 kWh
    // energy       = (0.00922 + 0.006272 + 0.0395) × 1.135 = 0.0624159 kWh → 6.24e-2
    // carbon       = 0.0624159 × 0.379069            = 0.0236599 kg → 2.37e-2
    // cost         = $0.7364
    let e = endpoint_hours("ml.g4dn.xlarge", 1, 1.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "6.24e-2");
    assert_eq!(sig3(e.footprint.kg_co2e), "2.37e-2");
    assert_eq!(sig3(e.footprint.usd), "7.36e-1");
    let c = e.basis.compute.as_ref().unwrap();
    assert_eq!(sig3(c.gpu_kwh), "3.95e-2");
    assert_eq!(c.gpu.as_ref().unwrap().model, "NVIDIA T4");
}

#[test]
fn utilisation_moves_cpu_watts_between_min_and_max() {
    // At 100 %, Skylake draws its max 4.26 W per vCPU: CPU = 4.26 × 4 / 1000 = 0.01704 kWh.
    let full = instance_usage("ml.m5.xlarge", 1, 3600.0, 3600.0, "us-east-1", Some(1.0)).unwrap();
    assert_eq!(sig3(full.basis.compute.unwrap().cpu_kwh), "1.70e-2");
    // At 0 %, its min 0.65 W: 0.0026 kWh.
    let idle = instance_usage("ml.m5.xlarge", 1, 3600.0, 3600.0, "us-east-1", Some(0.0)).unwrap();
    assert_eq!(sig3(idle.basis.compute.unwrap().cpu_kwh), "2.60e-3");
}

#[test]
fn x86_lambda_uses_the_aws_average_and_costs_more() {
    let arm = lambda_invocation(Arch::Arm64, 1769, 1000, "us-east-1").unwrap();
    let x86 = lambda_invocation(Arch::X86_64, 1769, 1000, "us-east-1").unwrap();
    let c = x86.basis.compute.as_ref().unwrap();
    assert_eq!((c.processor.as_str(), c.vcpus), ("AWS average", 1.0));
    assert!(x86.footprint.usd > arm.footprint.usd);
    assert!(x86.footprint.kwh > arm.footprint.kwh);
    // Many invocations: request charges add up, GB-seconds follow the total duration.
    let many = lambda_invocations(Arch::Arm64, 1769, 10, 10_000, "us-east-1").unwrap();
    assert_eq!(sig3(many.footprint.kwh), sig3(arm.footprint.kwh * 10.0));
    assert_eq!(sig3(many.footprint.usd), sig3(arm.footprint.usd * 10.0));
}

#[test]
fn step_functions_and_s3_are_priced_without_energy() {
    // 1,000 transitions × $0.000025 = $0.025
    let sf = state_transitions(1000).unwrap();
    assert_eq!(sig3(sf.footprint.usd), "2.50e-2");
    assert_eq!((sf.footprint.kwh, sf.footprint.kg_co2e), (0.0, 0.0));
    // 10 GB-months × $0.023 + 1,000 PUT × $0.000005 + 10,000 GET × $0.0000004 = 0.23 + 0.005 + 0.004
    let s3 = s3_standard(10.0, 1000, 10_000).unwrap();
    assert_eq!(sig3(s3.footprint.usd), "2.39e-1");
}

#[test]
fn regions_change_carbon_not_energy() {
    let virginia = endpoint_hours("ml.c6g.xlarge", 1, 1.0, "us-east-1").unwrap();
    let stockholm = endpoint_hours("ml.c6g.xlarge", 1, 1.0, "eu-north-1").unwrap();
    assert_eq!(virginia.footprint.kwh, stockholm.footprint.kwh);
    assert!(stockholm.footprint.kg_co2e < virginia.footprint.kg_co2e / 10.0);
    assert!(stockholm.basis.notes.iter().any(|n| n.contains("list prices")));
    assert!(virginia.basis.notes.is_empty());
}

// --- the families added with issue 23: Graviton, Trainium, Inferentia; embodied, storage, transfer --

#[test]
fn one_hour_of_graviton3_ml_c7g_xlarge() {
    // ml.c7g.xlarge: 4 vCPUs, 8 GiB, Graviton3 (Graviton2's CCF figures), $0.174/h
    // Graviton3 = 0.47 + 0.5 × (1.69 − 0.47)      = 1.08 W per vCPU → CPU 1.08 × 4 / 1000 = 0.00432 kWh
    // memory    = 8 × 0.000392                    = 0.003136 kWh
    // energy    = (0.00432 + 0.003136) × 1.135    = 0.00846256 kWh → 8.46e-3
    // carbon    = 0.00846256 × 0.379069           = 0.00320790 kg  → 3.21e-3
    // embodied  = 1155.46 kg × (1 h / 35040 h) × (4 / 64 vCPUs) = 0.00206097 kg → 2.06e-3
    //             (c7g host derived with CCF's constants: 1000 + (128 − 16) × 533 / 384 = 1155.46)
    let e = endpoint_hours("ml.c7g.xlarge", 1, 1.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "8.46e-3");
    assert_eq!(sig3(e.footprint.kg_co2e), "3.21e-3");
    assert_eq!(sig3(e.footprint.embodied_kg_co2e), "2.06e-3");
    assert_eq!(sig3(e.footprint.usd), "1.74e-1");
    let b = e.basis.embodied.as_ref().unwrap();
    assert_eq!((b.family.as_str(), b.host_vcpus, b.vcpus), ("c7g", 64, 4));
    assert!(e
        .basis
        .notes
        .iter()
        .any(|n| n.starts_with("embodied: not in CCF's table")));
}

#[test]
fn one_hour_of_trainium_ml_trn1_2xlarge() {
    // ml.trn1.2xlarge: 8 vCPUs Ice Lake (the AWS average: CCF lists no Ice Lake watts), 32 GiB, $1.5484/h
    // Ice Lake = 0.74 + 0.5 × (3.5 − 0.74)       = 2.12 W per vCPU → CPU 2.12 × 8 / 1000 = 0.01696 kWh
    // memory   = 32 × 0.000392                   = 0.012544 kWh
    // energy   = (0.01696 + 0.012544) × 1.135    = 0.0334870 kWh → 3.35e-2 (the Trainium chip: unmodelled)
    // carbon   = 0.0334870 × 0.379069            = 0.0126939 kg  → 1.27e-2
    // embodied = 4588.46 × (1 / 35040) × (8 / 128) = 0.00818431 kg → 8.18e-3
    let e = endpoint_hours("ml.trn1.2xlarge", 1, 1.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "3.35e-2");
    assert_eq!(sig3(e.footprint.kg_co2e), "1.27e-2");
    assert_eq!(sig3(e.footprint.embodied_kg_co2e), "8.18e-3");
    assert!(e.basis.notes.iter().any(|n| n.contains("Trainium chip")));
}

#[test]
fn one_hour_of_inferentia_ml_inf2_xlarge() {
    // ml.inf2.xlarge: 4 vCPUs AMD EPYC 3rd Gen, 16 GiB, $0.99/h
    // EPYC 3rd Gen = 0.45 + 0.5 × (2.02 − 0.45)   = 1.235 W per vCPU → CPU 1.235 × 4 / 1000 = 0.00494 kWh
    // memory       = 16 × 0.000392                = 0.006272 kWh
    // energy       = (0.00494 + 0.006272) × 1.135 = 0.0127256 kWh → 1.27e-2 (the Inferentia2 chip: unmodelled)
    // carbon       = 0.0127256 × 0.379069         = 0.00482389 kg → 4.82e-3
    // embodied     = 3943.79 × (1 / 35040) × (4 / 192) = 0.00234484 kg → 2.34e-3
    let e = endpoint_hours("ml.inf2.xlarge", 1, 1.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "1.27e-2");
    assert_eq!(sig3(e.footprint.kg_co2e), "4.82e-3");
    assert_eq!(sig3(e.footprint.embodied_kg_co2e), "2.34e-3");
}

#[test]
fn embodied_share_of_an_m5_host_from_ccf_table() {
    // CCF's coefficients-aws-embodied.csv: m5 total 1610.79 kgCO2e; host Xeon Platinum 8175M, 96 vCPUs.
    // 2 × ml.m5.xlarge for 1 h = 2 instance-hours:
    // embodied = 1610.79 × (2 h / 35040 h) × (4 / 96) = 0.00383086 kg → 3.83e-3
    let e = transform_job("ml.m5.xlarge", 2, 3600.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.embodied_kg_co2e), "3.83e-3");
    // Embodied emissions do not depend on the grid; operational ones do.
    let eu = transform_job("ml.m5.xlarge", 2, 3600.0, "eu-north-1").unwrap();
    assert_eq!(eu.footprint.embodied_kg_co2e, e.footprint.embodied_kg_co2e);
    // A Lambda invocation carries none (CCF counts compute instances only).
    let l = lambda_invocation(Arch::Arm64, 1024, 1000, "us-east-1").unwrap();
    assert_eq!(l.footprint.embodied_kg_co2e, 0.0);
    // Every instance type has a family entry whose host is at least as large as the instance.
    let c = coefficients().unwrap();
    for (name, t) in &c.sagemaker.instance_types {
        let (_, host) = c.embodied_family(name).unwrap_or_else(|| panic!("{name}"));
        assert!(host.host_vcpus >= t.vcpus, "{name}");
    }
}

#[test]
fn ten_gb_months_of_s3_standard() {
    // TB-hours = 10 GB / 1000 × 730 h             = 7.3 TB-h
    // energy   = 7.3 × 0.65 Wh / 1000 × 3 replicas × 1.135 PUE = 0.0161567 kWh → 1.62e-2
    // carbon   = 0.0161567 × 0.379069             = 0.00612450 kg → 6.12e-3
    // cost     = 10 × $0.023                      = $0.23
    let e = s3_storage(10.0, "us-east-1").unwrap();
    assert_eq!(sig3(e.footprint.kwh), "1.62e-2");
    assert_eq!(sig3(e.footprint.kg_co2e), "6.12e-3");
    assert_eq!(sig3(e.footprint.usd), "2.30e-1");
    assert_eq!(e.footprint.embodied_kg_co2e, 0.0);
    assert!(matches!(
        s3_storage(-1.0, "us-east-1"),
        Err(FootprintError::InvalidInput(_))
    ));
}

#[test]
fn data_moved_between_regions_and_within_one() {
    // 100 GB us-east-1 → eu-west-1:
    // energy = 100 × 0.001 kWh × 1.135 PUE = 0.1135 kWh → 1.14e-1 (1.135e-1 rounds half-even in
    //          printf to 1.13e-1 or 1.14e-1 depending on the binary value: checked as 0.1135 ± 1e-12)
    // carbon = 0.1135 × 0.379069 (sender)  = 0.0430243 kg → 4.30e-2
    // cost   = 100 × $0.02                 = $2.00
    let e = data_transfer(100.0, "us-east-1", "eu-west-1").unwrap();
    assert!((e.footprint.kwh - 0.1135).abs() < 1e-12, "{}", e.footprint.kwh);
    assert_eq!(sig3(e.footprint.kg_co2e), "4.30e-2");
    assert_eq!(sig3(e.footprint.usd), "2.00e0");
    // Within one region: nothing counted, and said so.
    let same = data_transfer(100.0, "us-east-1", "us-east-1").unwrap();
    assert_eq!(same.footprint, Footprint::default());
    assert!(same.basis.notes[0].contains("within one region"));
}

#[test]
fn stand_ins_and_unmodelled_hardware_are_explained() {
    let c7g = endpoint_hours("ml.c7g.xlarge", 1, 1.0, "us-east-1").unwrap();
    assert!(c7g.basis.notes.iter().any(|n| n.starts_with("Graviton3:")));
    let inf2 = endpoint_hours("ml.inf2.xlarge", 1, 1.0, "us-east-1").unwrap();
    assert!(inf2.basis.notes.iter().any(|n| n.contains("Inferentia2")));
    let c5 = endpoint_hours("ml.c5.xlarge", 1, 1.0, "us-east-1").unwrap();
    // mean of Cascade Lake (0.64/3.97) and Skylake (0.65/4.26) = 0.645 / 4.115
    let b = c5.basis.compute.unwrap();
    assert_eq!(b.processor, "mean of Cascade Lake, Skylake");
    assert_eq!(
        (sig3(b.min_watts_per_vcpu), sig3(b.max_watts_per_vcpu)),
        ("6.45e-1".into(), "4.12e0".into())
    );
}

#[test]
fn unknown_inputs_are_typed_errors() {
    assert_eq!(
        endpoint_hours("ml.x99.huge", 1, 1.0, "us-east-1").unwrap_err(),
        FootprintError::UnknownInstanceType("ml.x99.huge".into())
    );
    assert_eq!(
        endpoint_hours("ml.m5.xlarge", 1, 1.0, "mars-north-1").unwrap_err(),
        FootprintError::UnknownRegion("mars-north-1".into())
    );
    assert!(matches!(
        training_job("ml.m5.xlarge", 1, 60.0, 60.0, "us-east-1", Some(1.5)),
        Err(FootprintError::InvalidInput(_))
    ));
    assert!(matches!(
        transform_job("ml.m5.xlarge", 1, f64::NAN, "us-east-1"),
        Err(FootprintError::InvalidInput(_))
    ));
    assert!(matches!(
        lambda_invocation(Arch::Arm64, 64, 1, "us-east-1"),
        Err(FootprintError::InvalidInput(_))
    ));
    let err: crate::Error = FootprintError::UnknownRegion("x".into()).into();
    assert_eq!(err.error_type(), "ConfigError");
}

#[test]
fn footprints_add_up() {
    let a = Footprint {
        usd: 1.0,
        kwh: 2.0,
        kg_co2e: 3.0,
        embodied_kg_co2e: 0.5,
    };
    let b = Footprint {
        usd: 0.5,
        kwh: 0.25,
        kg_co2e: 0.125,
        embodied_kg_co2e: 0.0,
    };
    let total: Footprint = [a, b].iter().sum();
    assert_eq!(
        total,
        Footprint {
            usd: 1.5,
            kwh: 2.25,
            kg_co2e: 3.125,
            embodied_kg_co2e: 0.5,
        }
    );
    let mut acc = Footprint::default();
    acc += a;
    acc += b;
    assert_eq!(acc, a + b);
}

// --- the coefficient table -------------------------------------------------------------------------

#[test]
fn coefficient_file_parses_and_is_versioned() {
    let c = coefficients().unwrap();
    assert!(!c.version.is_empty() && !c.date.is_empty());
    for source in [
        &c.energy.source,
        &c.processors.source,
        &c.gpus.source,
        &c.grid.source,
        &c.sagemaker.source,
        &c.lambda.source,
        &c.step_functions.source,
        &c.s3.source,
    ] {
        assert!(
            source.contains("https://") && source.contains("2026"),
            "source without URL/date: {source}"
        );
    }
    // The constants of Cloud Carbon Footprint's method.
    assert_eq!((c.energy.pue, c.energy.memory_kwh_per_gb_hour), (1.135, 0.000392));
    let avg = &c.processors.families["AWS average"];
    assert_eq!((avg.min_watts, avg.max_watts), (0.74, 3.5));
    let g2 = &c.processors.families["Graviton2"];
    assert_eq!((g2.min_watts, g2.max_watts), (0.47, 1.69));
    assert_eq!(c.lambda.mb_per_vcpu, 1769.0);
}

#[test]
fn every_instance_type_references_a_known_processor_and_gpu() {
    let c = coefficients().unwrap();
    assert!(c.sagemaker.instance_types.len() >= 30);
    for (name, t) in &c.sagemaker.instance_types {
        assert!(name.starts_with("ml."), "{name}");
        assert!(
            t.vcpus > 0 && t.memory_gib > 0.0 && t.usd_per_hour > 0.0,
            "{name}"
        );
        for family in &t.cpu {
            assert!(
                c.processors.families.contains_key(family),
                "{name}: unknown family {family}"
            );
        }
        if let Some(gpu) = &t.gpu {
            assert!(
                c.gpus.models.contains_key(&gpu.model) && gpu.count > 0,
                "{name}: {}",
                gpu.model
            );
        }
        // Every type is estimable end to end.
        let e = endpoint_hours(name, 1, 1.0, "us-east-1").unwrap();
        assert!(e.footprint.kwh > 0.0 && e.footprint.kg_co2e > 0.0, "{name}");
    }
}

#[test]
fn every_region_factor_is_positive() {
    let c = coefficients().unwrap();
    assert!(c.grid.regions.len() >= 25);
    assert_eq!(c.grid.unit, "kgCO2e/kWh");
    for (region, factor) in &c.grid.regions {
        // Positive and plausible in kg (not tonnes, not grams) per kWh.
        assert!(*factor > 0.0 && *factor < 1.5, "{region}: {factor}");
    }
}

// --- EMF ---------------------------------------------------------------------------------------------

#[test]
fn emf_line_has_the_specified_shape() {
    let fp = Footprint {
        usd: 0.276,
        kwh: 0.0365,
        kg_co2e: 0.0138,
        embodied_kg_co2e: 0.0,
    };
    let line = footprint_emf_line(
        "",
        &[("Pipeline", "orders"), ("Stage", "train")],
        &fp,
        Some(2.0),
        1_700_000_000_000,
    )
    .unwrap();
    assert!(!line.contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let aws = &v["_aws"];
    assert_eq!(aws["Timestamp"], 1_700_000_000_000u64);
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1);
    let d = &directives[0];
    assert_eq!(d["Namespace"], "greenpipe");
    assert_eq!(d["Dimensions"], serde_json::json!([["Pipeline", "Stage"]]));
    let metrics = d["Metrics"].as_array().unwrap();
    let names: Vec<&str> = metrics.iter().map(|m| m["Name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["CostUSD", "EnergyKWh", "EmissionsKgCO2e", "InstanceHours"]
    );
    assert!(metrics.iter().all(|m| m["Unit"] == "None"));
    // Target members live on the root node, next to the dimension values.
    assert_eq!(v["Pipeline"], "orders");
    assert_eq!(v["Stage"], "train");
    assert_eq!(v["CostUSD"], 0.276);
    assert_eq!(v["EnergyKWh"], 0.0365);
    assert_eq!(v["EmissionsKgCO2e"], 0.0138);
    assert_eq!(v["InstanceHours"], 2.0);
    assert_eq!(v.as_object().unwrap().len(), 7);

    // Cleanup's prefix, no instance-hours, no dimensions.
    let line = footprint_emf_line("AvoidedPerDay", &[], &fp, None, 1).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([[]])
    );
    assert_eq!(v["AvoidedPerDayCostUSD"], 0.276);
    assert!(v.get("AvoidedPerDayInstanceHours").is_none());
}

#[test]
fn emf_rejects_what_cloudwatch_would_drop() {
    let m = |name, value| EmfMetric {
        name,
        value,
        unit: EmfUnit::Count,
    };
    let ok = [m("Rows", 1.0)];
    assert!(emf_line(NAMESPACE, &[("Stage", "x")], &ok, 0).is_ok());
    for (ns, dims, metrics) in [
        ("", vec![], vec![m("Rows", 1.0)]),
        ("AWS/Lambda", vec![], vec![m("Rows", 1.0)]),
        (NAMESPACE, vec![], vec![]),
        (NAMESPACE, vec![], vec![m("Rows", f64::NAN)]),
        (NAMESPACE, vec![], vec![m("Rows", f64::INFINITY)]),
        (NAMESPACE, vec![], vec![m("", 1.0)]),
        (NAMESPACE, vec![("Rows", "a")], vec![m("Rows", 1.0)]),
        (NAMESPACE, vec![], vec![m("_aws", 1.0)]),
        (NAMESPACE, vec![("Stage", "")], vec![m("Rows", 1.0)]),
        (NAMESPACE, vec![("Stage", "é")], vec![m("Rows", 1.0)]),
    ] {
        assert!(
            matches!(emf_line(ns, &dims, &metrics, 0), Err(FootprintError::Emf(_))),
            "{ns:?} {dims:?}"
        );
    }
    let keys: Vec<String> = (0..31).map(|i| format!("D{i}")).collect();
    let dims: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
    assert!(emf_line(NAMESPACE, &dims, &ok, 0).is_err());
    assert!(emf_line(NAMESPACE, &dims[..30], &ok, 0).is_ok());
}
