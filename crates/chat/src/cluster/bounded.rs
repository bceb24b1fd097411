//! One Redis request with a time bound: every presence, nick and
//! private-message call goes through [`bounded`], so a Redis that stopped
//! answering costs a member at most [`COMMAND_TIMEOUT`], never a hang.

use std::future::Future;

use super::{Cluster, ClusterError, COMMAND_TIMEOUT};

/// Runs `request` against `cluster`, failing with
/// [`ClusterError::Unreachable`] on an error or after [`COMMAND_TIMEOUT`].
pub async fn bounded<T>(
    cluster: &Cluster,
    request: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, request).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(cluster.unreachable(e)),
        Err(_) => Err(cluster.unreachable(format!("no answer within {} s", COMMAND_TIMEOUT.as_secs()))),
    }
}
