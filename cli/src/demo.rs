//! `greenpipe demo`: the bundled samples against the bundled contract, from any directory, with no AWS
//! account. (To be replaced by `greenpipe run`, the whole pipeline locally.)

use bytes::Bytes;
use greenpipe::validate::Validator;
use greenpipe::Result;

use crate::summary;

const CONTRACT_NAME: &str = "contracts/sales.yaml";
const CONTRACT: &[u8] = include_bytes!("../../contracts/sales.yaml");
/// (name, bytes, expected validity)
const SAMPLES: [(&str, &[u8], bool); 2] = [
    (
        "samples/sales.csv",
        include_bytes!("../../samples/sales.csv"),
        true,
    ),
    (
        "samples/sales-invalid.csv",
        include_bytes!("../../samples/sales-invalid.csv"),
        false,
    ),
];
/// Violation examples shown per sample: enough for every problem planted in the invalid sample.
const EXAMPLES: usize = 20;

/// Validate every sample; `Ok(true)` when each gave its expected result.
pub fn run() -> Result<bool> {
    let contract = greenpipe::contract::parse_contract(CONTRACT, CONTRACT_NAME)?;
    let validator = Validator::new(contract, &format!("bundled {CONTRACT_NAME}"))?;
    let mut as_expected = true;
    for (name, data, expected) in SAMPLES {
        let start = std::time::Instant::now();
        let report = validator.validate(&Bytes::from_static(data), name, &|_| {})?;
        summary::print(&summary::render(&report, start.elapsed(), EXAMPLES));
        let verdict = if report.valid == expected {
            "as expected"
        } else {
            as_expected = false;
            "UNEXPECTED"
        };
        let expectation = if expected { "valid" } else { "invalid" };
        summary::print(&format!("  demo: expected {expectation}: {verdict}\n\n"));
    }
    let outcome = if as_expected {
        "ok"
    } else {
        "FAILED: a sample did not give its expected result"
    };
    summary::print(&format!("demo {outcome}\n"));
    Ok(as_expected)
}
