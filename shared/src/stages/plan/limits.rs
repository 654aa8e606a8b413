//! What a contract may ask SageMaker for: the stack's allow-lists and caps. Whoever can write a contract
//! picks the image, instance type and count and the runtime of the jobs the pipeline starts; these
//! limits keep that within what the deployment allows (and within the images the SageMaker execution
//! role may pull). Unset, a limit allows anything (local runs).

use crate::aws::access::glob;
use crate::{Error, Result};

/// The limits, read once from the environment (see [`super::handler::PlanConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobLimits {
    /// `GREENPIPE_ALLOWED_IMAGE_REPOSITORIES`: ECR repository ARN patterns (`*` wildcards), e.g.
    /// `arn:aws:ecr:*:683313688378:repository/*`.
    pub image_repositories: Vec<String>,
    /// `GREENPIPE_ALLOWED_INSTANCE_TYPES`: instance types, e.g. `ml.m5.large`.
    pub instance_types: Vec<String>,
    /// `GREENPIPE_MAX_INSTANCE_COUNT`.
    pub max_instance_count: Option<u32>,
    /// `GREENPIPE_MAX_RUNTIME_SECONDS`: the longest `MaxRuntimeInSeconds`.
    pub max_runtime_seconds: Option<u32>,
}

impl JobLimits {
    /// A training job's image, instance type, count and runtime (the model uses the same image).
    pub fn check_training(
        &self,
        image: &str,
        instance_type: &str,
        count: u32,
        runtime_seconds: u32,
    ) -> Result<()> {
        self.check_image(image)?;
        self.check_instances("training", instance_type, count)?;
        if let Some(max) = self.max_runtime_seconds.filter(|max| runtime_seconds > *max) {
            return Err(Error::PlanRefused(format!(
                "training max runtime {runtime_seconds} s is over the stack's limit of {max} s \
                 (GREENPIPE_MAX_RUNTIME_SECONDS)"
            )));
        }
        Ok(())
    }

    /// A batch transform's instance type and count.
    pub fn check_transform(&self, instance_type: &str, count: u32) -> Result<()> {
        self.check_instances("batch transform", instance_type, count)
    }

    fn check_instances(&self, what: &str, instance_type: &str, count: u32) -> Result<()> {
        if !self.instance_types.is_empty() && !self.instance_types.iter().any(|t| t == instance_type) {
            return Err(Error::PlanRefused(format!(
                "{what} instance type {instance_type} is not one the stack allows ({}; \
                 GREENPIPE_ALLOWED_INSTANCE_TYPES)",
                self.instance_types.join(", ")
            )));
        }
        if let Some(max) = self.max_instance_count.filter(|max| count > *max) {
            return Err(Error::PlanRefused(format!(
                "{what} on {count} instances is over the stack's limit of {max} (GREENPIPE_MAX_INSTANCE_COUNT)"
            )));
        }
        Ok(())
    }

    fn check_image(&self, image: &str) -> Result<()> {
        if self.image_repositories.is_empty() {
            return Ok(());
        }
        let allowed =
            repository_arn(image).is_some_and(|arn| self.image_repositories.iter().any(|p| glob(p, &arn)));
        if allowed {
            return Ok(());
        }
        Err(Error::PlanRefused(format!(
            "image {image} is not in a repository the stack allows ({}; GREENPIPE_ALLOWED_IMAGE_REPOSITORIES)",
            self.image_repositories.join(", ")
        )))
    }
}

/// The ECR repository ARN of an image URI: `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>[:tag
/// | @digest]` → `arn:<partition>:ecr:<region>:<account>:repository/<repo>`. Not an ECR image: `None`.
pub fn repository_arn(image: &str) -> Option<String> {
    let (host, path) = image.split_once('/')?;
    let mut parts = host.split('.');
    let account = parts.next()?;
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    if (parts.next()?, parts.next()?) != ("dkr", "ecr") {
        return None;
    }
    let region = parts.next()?;
    let partition = match parts.collect::<Vec<_>>().join(".").as_str() {
        "amazonaws.com" => "aws",
        "amazonaws.com.cn" => "aws-cn",
        _ => return None,
    };
    let repository = path.split(['@', ':']).next().filter(|r| !r.is_empty())?;
    Some(format!(
        "arn:{partition}:ecr:{region}:{account}:repository/{repository}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> JobLimits {
        JobLimits {
            image_repositories: vec!["arn:aws:ecr:*:683313688378:repository/*".into()],
            instance_types: vec!["ml.m5.large".into(), "ml.m5.xlarge".into()],
            max_instance_count: Some(2),
            max_runtime_seconds: Some(3600),
        }
    }

    const XGBOOST: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

    #[test]
    fn image_uris_name_their_repository() {
        assert_eq!(
            repository_arn(XGBOOST).as_deref(),
            Some("arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-xgboost")
        );
        assert_eq!(
            repository_arn("111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/team/model@sha256:ab")
                .as_deref(),
            Some("arn:aws-cn:ecr:cn-north-1:111122223333:repository/team/model")
        );
        for not_ecr in [
            "docker.io/library/python:3",
            "python:3",
            "12.dkr.ecr.x.amazonaws.com/r",
            "",
        ] {
            assert_eq!(repository_arn(not_ecr), None, "{not_ecr}");
        }
    }

    #[test]
    fn within_the_limits_is_allowed() {
        limits().check_training(XGBOOST, "ml.m5.large", 2, 3600).unwrap();
        limits().check_transform("ml.m5.xlarge", 1).unwrap();
        JobLimits::default()
            .check_training("docker.io/anything", "ml.p5.48xlarge", 64, u32::MAX)
            .unwrap();
    }

    #[test]
    fn outside_the_limits_is_a_typed_refusal_that_says_which_limit() {
        let cases = [
            limits().check_training(
                "111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1",
                "ml.m5.large",
                1,
                60,
            ),
            limits().check_training("docker.io/library/python:3", "ml.m5.large", 1, 60),
            limits().check_training(XGBOOST, "ml.p5.48xlarge", 1, 60),
            limits().check_training(XGBOOST, "ml.m5.large", 3, 60),
            limits().check_training(XGBOOST, "ml.m5.large", 1, 3601),
            limits().check_transform("ml.g5.xlarge", 1),
        ];
        let says = [
            "GREENPIPE_ALLOWED_IMAGE_REPOSITORIES",
            "GREENPIPE_ALLOWED_IMAGE_REPOSITORIES",
            "GREENPIPE_ALLOWED_INSTANCE_TYPES",
            "GREENPIPE_MAX_INSTANCE_COUNT",
            "GREENPIPE_MAX_RUNTIME_SECONDS",
            "GREENPIPE_ALLOWED_INSTANCE_TYPES",
        ];
        for (result, says) in cases.into_iter().zip(says) {
            let err = result.unwrap_err();
            assert_eq!(err.error_type(), "PlanRefused");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
