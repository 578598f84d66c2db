//! [`BatchScript`]: what a test (or the demo) asks a batch to do — its size, lanes, call
//! lengths, failures and timing. The simulator plans it into a [`Batch`](crate::batch::Batch).

use std::time::Duration;

const DEFAULT_REASONS: [&str; 4] = [
    "Number busy",
    "No answer",
    "Voicemail detected",
    "Invalid number",
];

/// What a batch should do, as a builder: `BatchScript::new(150).id("batch_x").concurrency(5)`.
///
/// All times are sim time, relative to the moment the batch is added to the simulator.
#[derive(Debug, Clone)]
pub struct BatchScript {
    pub(crate) id: Option<String>,
    pub(crate) total: usize,
    pub(crate) concurrency: usize,
    pub(crate) call_duration: Duration,
    pub(crate) failure_rate: f64,
    pub(crate) failure_reasons: Vec<String>,
    pub(crate) start_delay: Duration,
    pub(crate) started_ago: Duration,
    pub(crate) abort_at: Option<Duration>,
    pub(crate) finished: bool,
    /// The rows of the CSV the batch was started from (each a list of column, value pairs in
    /// the file's order); `None` for a scripted batch, whose contacts are generated.
    pub(crate) rows: Option<std::sync::Arc<Vec<Row>>>,
}

/// One row of an uploaded CSV: (column, value) pairs in the file's order.
pub type Row = Vec<(String, String)>;

impl BatchScript {
    /// A batch of `total` calls: 5 lanes, calls of about 30 s (±40%), 5% failures, starting now.
    pub fn new(total: usize) -> Self {
        Self {
            id: None,
            total,
            concurrency: 5,
            call_duration: Duration::from_secs(30),
            failure_rate: 0.05,
            failure_reasons: DEFAULT_REASONS.iter().map(|r| (*r).to_owned()).collect(),
            start_delay: Duration::ZERO,
            started_ago: Duration::ZERO,
            abort_at: None,
            finished: false,
            rows: None,
        }
    }

    /// The batch ID; without one the simulator generates `batch_<13 digits>`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// How many calls run at once (at least 1).
    pub fn concurrency(mut self, lanes: usize) -> Self {
        self.concurrency = lanes.max(1);
        self
    }

    /// The typical length of a completed call; each call varies by ±40%, and a failed call
    /// takes 10–50% of it.
    pub fn call_duration(mut self, duration: Duration) -> Self {
        self.call_duration = duration;
        self
    }

    /// The share of calls that fail, clamped to 0.0–1.0.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// The errors failed calls report, one picked per call by hash.
    pub fn failure_reasons<I, S>(mut self, reasons: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.failure_reasons = reasons.into_iter().map(Into::into).collect();
        self
    }

    /// The batch stays `queued` for this long after it is added.
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }

    /// This long after its start the batch ends as `failed`: active calls fail with
    /// "Batch failed", waiting calls are dropped (listed as `cancelled`).
    pub fn abort_at(mut self, since_start: Duration) -> Self {
        self.abort_at = Some(since_start);
        self
    }

    /// The batch started this long before it is added (it may even be over by then).
    pub fn started_ago(mut self, ago: Duration) -> Self {
        self.started_ago = ago;
        self
    }

    /// The batch calls these contacts, one call a row in order: each call's `phone_number` is
    /// the row's, its `metadata` the row itself. Sets the total to the number of rows.
    pub fn rows(mut self, rows: Vec<Row>) -> Self {
        self.total = rows.len();
        self.rows = Some(std::sync::Arc::new(rows));
        self
    }

    /// The batch is already completed when it is added (its last call ended a minute before).
    pub fn finished(mut self) -> Self {
        self.finished = true;
        self
    }
}
