//! Retention: closed Standard executions and their histories are deleted once they have
//! been closed longer than the retention period (AWS keeps them 90 days).

use crate::driver::{store_error, Driver};
use crate::ApiError;

/// AWS's retention of closed executions, in days.
pub const DEFAULT_DAYS: u32 = 90;
/// Executions deleted per store write, so one sweep never holds the writer for long.
const BATCH: usize = 500;

/// Deletes every execution closed more than `days` days ago (by the driver's clock) and
/// returns how many it deleted.
pub(crate) fn sweep(driver: &Driver, days: u32) -> Result<usize, ApiError> {
    let cutoff = driver
        .now_ms()
        .saturating_sub(i64::from(days).saturating_mul(86_400_000));
    let mut deleted = 0;
    loop {
        let batch = driver
            .store
            .delete_closed_executions(cutoff, BATCH)
            .map_err(store_error)?;
        deleted += batch;
        if batch < BATCH {
            return Ok(deleted);
        }
    }
}
