//! The kinds of timed work: each timer is one of these, stored by its name.

/// What a timer does when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// An `A0001` card charge resolves (the acquirer confirms or fails it).
    ResolvePending,
    /// A pay-later order's deadline (`limit_pay_days`) passes.
    PaymentDeadline,
    /// The provider reviews a post-pay or cardless application.
    Review,
    /// A batch acquirer confirms a capture at its nightly batch (`247` → `250`).
    CaptureBatch,
    /// A queued refund completes at the nightly batch (the timer's `uid` is the refund's).
    RefundBatch,
    /// A recurring series charges a period (the timer's `uid` is the series', its
    /// payload `period:attempt`).
    RecurringCharge,
    /// A paid order's e-invoice, if the payment's own attempt did not issue it (a crash
    /// between the two): the invoice is made certain, not hoped for.
    IssueInvoice,
}

impl TimerKind {
    pub const ALL: [TimerKind; 7] = [
        TimerKind::ResolvePending,
        TimerKind::PaymentDeadline,
        TimerKind::Review,
        TimerKind::CaptureBatch,
        TimerKind::RefundBatch,
        TimerKind::RecurringCharge,
        TimerKind::IssueInvoice,
    ];

    /// The stored name (unchanged since the first schema).
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::ResolvePending => "resolve_pending",
            TimerKind::PaymentDeadline => "payment_deadline",
            TimerKind::Review => "application_review",
            TimerKind::CaptureBatch => "capture_batch",
            TimerKind::RefundBatch => "refund_batch",
            TimerKind::RecurringCharge => "recurring_charge",
            TimerKind::IssueInvoice => "issue_invoice",
        }
    }

    pub fn parse(name: &str) -> Option<TimerKind> {
        TimerKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How an `A0001` charge resolves: the payload of its [`TimerKind::ResolvePending`]
/// timer. The sandbox's simulated charges know their outcome from the start; an
/// upstream's unknown outcome is asked for, by the charge's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingOutcome {
    Paid,
    Failed,
    /// Ask the upstream how `reference` stands; `asked` times asked so far.
    Ask {
        asked: u32,
        reference: String,
    },
}

impl PendingOutcome {
    pub fn of(paid: bool) -> PendingOutcome {
        if paid {
            PendingOutcome::Paid
        } else {
            PendingOutcome::Failed
        }
    }

    pub fn payload(&self) -> String {
        match self {
            PendingOutcome::Paid => "paid".into(),
            PendingOutcome::Failed => "failed".into(),
            PendingOutcome::Ask { asked, reference } => format!("ask:{asked}:{reference}"),
        }
    }

    pub fn parse(text: &str) -> Option<PendingOutcome> {
        match text {
            "paid" => Some(PendingOutcome::Paid),
            "failed" => Some(PendingOutcome::Failed),
            _ => {
                let rest = text.strip_prefix("ask:")?;
                let (asked, reference) = rest.split_once(':')?;
                (!reference.is_empty()).then_some(())?;
                Some(PendingOutcome::Ask {
                    asked: asked.parse().ok()?,
                    reference: reference.to_owned(),
                })
            }
        }
    }
}

/// When an unknown outcome is asked about: 1 minute after the charge, then 5 minutes,
/// 30 minutes and 2 hours after the previous ask, then daily for 7 days. Unresolved
/// after that, it is left for the operator.
pub const RESOLVE_SCHEDULE_SECS: [u64; 11] = [
    60, 300, 1_800, 7_200, 86_400, 86_400, 86_400, 86_400, 86_400, 86_400, 86_400,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in TimerKind::ALL {
            assert_eq!(TimerKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TimerKind::parse("unknown"), None);
    }

    #[test]
    fn a_pending_outcome_reads_back_from_its_payload() {
        let ask = PendingOutcome::Ask {
            asked: 3,
            reference: "ab:cd".into(),
        };
        for outcome in [PendingOutcome::of(true), PendingOutcome::of(false), ask] {
            assert_eq!(PendingOutcome::parse(&outcome.payload()), Some(outcome));
        }
        for bad in ["approve", "ask:", "ask:x:ref", "ask:1:", "ask:1"] {
            assert_eq!(PendingOutcome::parse(bad), None, "{bad}");
        }
    }
}
