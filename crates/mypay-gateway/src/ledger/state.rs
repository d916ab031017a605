//! The state graph of 附錄二 / SPEC §5, as one transition table. Every change of an
//! order's `prc` goes through [`next`]; anything outside the table is refused.

use mypay_protocol::Prc;

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The acquirer approved a card charge with automatic capture.
    CardPaid,
    /// The acquirer approved a card charge in authorise-only mode (`creditcard_is_automatic_payment` 0).
    CardAuthorised,
    /// The acquirer declined.
    Declined,
    /// The acquirer or issuer did not work.
    Unavailable,
    /// The acquirer has not answered yet.
    AcquirerPending,
    /// Paid, but with a different amount than the order's.
    PaidWithMismatch,
    /// A pending (`A0001`) charge resolved.
    PendingResolved { paid: bool },
    /// The consumer left the PayPage.
    Abandoned,
    /// The merchant captured an authorisation (`api/authorizedrequestpayment`); a batch
    /// acquirer confirms it at its nightly batch.
    Captured { batch: bool },
    /// The batch acquirer's nightly batch confirmed the capture.
    CaptureConfirmed,
    /// The merchant cancelled an authorisation (`api/cancelauthorization`).
    AuthorisationCancelled,
    /// A store code or barcodes were issued (CSTORECODE, BARCODE).
    CounterCodeIssued,
    /// A virtual account was issued (E_COLLECTION).
    AccountIssued,
    /// The consumer went on to pay online (WEBATM, M_RECHARGE).
    OnlineTransferStarted,
    /// The consumer paid at the counter, the ATM or online; `exact` when the amount
    /// matched the order's.
    PaidLater { exact: bool },
    /// The deadline to pay (`limit_pay_days`) passed unpaid.
    DeadlinePassed,
    /// The online transfer failed.
    OnlineTransferFailed,
    /// The wallet confirmed the payment (the consumer in the app, or the merchant's scan).
    WalletPaid,
    /// The wallet refused it.
    WalletDeclined,
    /// The consumer applied for post-pay (AFP); the provider reviews.
    PostPayApplied,
    /// The consumer bound the order to a cardless-instalment application (CARDLESS).
    CardlessBound,
    /// The consumer completed the cardless application; the provider reviews.
    CardlessSubmitted,
    /// The provider approved (post-pay: may ship; cardless: paid) or rejected.
    Reviewed { approved: bool },
    /// The merchant shipped a post-pay order and captured it.
    PostPayCaptured,
    /// Cash received in person.
    CashReceived,
    /// The acquirer's reconciliation settled a paid order (結帳完成): it will be paid out.
    Settled,
    /// The consumer bound a card to a recurring series whose first charge is on a later
    /// date (訂單綁定).
    RecurringCardBound,
    /// The scheduler charged the bound card for period 1.
    BoundCardCharged { paid: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order in state {from} cannot take {event:?}")]
pub struct TransitionRefused {
    pub from: Prc,
    pub event: Event,
}

/// The state an order in `from` moves to on `event`.
pub fn next(from: Prc, event: Event) -> Result<Prc, TransitionRefused> {
    use Event::*;
    let to = match (from, event) {
        (Prc::Created, CardPaid) => Prc::Paid,
        (Prc::Created, CardAuthorised) => Prc::Authorised,
        (Prc::Created, Declined) => Prc::Failed,
        (Prc::Created, Unavailable) => Prc::SystemError,
        (Prc::Created, AcquirerPending) => Prc::Pending,
        (Prc::Created, PaidWithMismatch) => Prc::PaidMismatch,
        (Prc::Created, Abandoned) => Prc::Abandoned,
        (Prc::Pending, PendingResolved { paid: true }) => Prc::Paid,
        (Prc::Pending, PendingResolved { paid: false }) => Prc::Failed,
        (Prc::Authorised, Captured { batch: true }) => Prc::Capturing,
        (Prc::Authorised, Captured { batch: false }) => Prc::Paid,
        (Prc::Capturing, CaptureConfirmed) => Prc::Paid,
        // The document's recorded answer: the order becomes 交易失敗, and the cancellation
        // is a record of its own (`cancel_order`, 220).
        (Prc::Authorised, AuthorisationCancelled) => Prc::Failed,
        (Prc::Created, CounterCodeIssued) => Prc::CvsIssued,
        (Prc::Created, AccountIssued) => Prc::VirtualAccountIssued,
        (Prc::Created, OnlineTransferStarted) => Prc::AwaitingOnline,
        (
            Prc::CvsIssued | Prc::VirtualAccountIssued | Prc::AwaitingOnline,
            PaidLater { exact: true },
        ) => Prc::Paid,
        (
            Prc::CvsIssued | Prc::VirtualAccountIssued | Prc::AwaitingOnline,
            PaidLater { exact: false },
        ) => Prc::PaidMismatch,
        (Prc::CvsIssued | Prc::VirtualAccountIssued | Prc::AwaitingOnline, DeadlinePassed) => {
            Prc::Expired
        }
        (Prc::AwaitingOnline, OnlineTransferFailed) => Prc::Failed,
        (Prc::Created, WalletPaid) => Prc::Paid,
        (Prc::Created, WalletDeclined) => Prc::Failed,
        (Prc::Created, PostPayApplied) => Prc::PostPayReview,
        (Prc::PostPayReview, Reviewed { approved: true }) => Prc::PostPayApproved,
        (Prc::PostPayReview, Reviewed { approved: false }) => Prc::Failed,
        (Prc::PostPayApproved, PostPayCaptured) => Prc::Paid,
        // 後付款請款失敗: the provider refuses the post-pay after approval.
        (Prc::PostPayApproved, Reviewed { approved: false }) => Prc::Failed,
        (Prc::Created, CardlessBound) => Prc::CardlessBound,
        (Prc::CardlessBound, CardlessSubmitted) => Prc::CardlessReview,
        (Prc::CardlessBound, Abandoned) => Prc::Abandoned,
        (Prc::CardlessReview, Reviewed { approved: true }) => Prc::Paid,
        (Prc::CardlessReview, Reviewed { approved: false }) => Prc::Failed,
        (Prc::Created, CashReceived) => Prc::Paid,
        (Prc::Paid, Settled) => Prc::Settled,
        (Prc::Created, RecurringCardBound) => Prc::CardlessBound,
        (Prc::CardlessBound, BoundCardCharged { paid: true }) => Prc::Paid,
        (Prc::CardlessBound, BoundCardCharged { paid: false }) => Prc::Failed,
        // Paid after the deadline: money arrived, but not as agreed (附錄二 380 → 290).
        (Prc::Expired, PaidLater { .. }) => Prc::PaidMismatch,
        (from, event) => return Err(TransitionRefused { from, event }),
    };
    Ok(to)
}

impl Event {
    /// Every event, each variant with each of its values: the table's whole input.
    pub const ALL: &'static [Event] = &[
        Event::CardPaid,
        Event::CardAuthorised,
        Event::Declined,
        Event::Unavailable,
        Event::AcquirerPending,
        Event::PaidWithMismatch,
        Event::PendingResolved { paid: true },
        Event::PendingResolved { paid: false },
        Event::Abandoned,
        Event::Captured { batch: true },
        Event::Captured { batch: false },
        Event::CaptureConfirmed,
        Event::AuthorisationCancelled,
        Event::CounterCodeIssued,
        Event::AccountIssued,
        Event::OnlineTransferStarted,
        Event::PaidLater { exact: true },
        Event::PaidLater { exact: false },
        Event::DeadlinePassed,
        Event::OnlineTransferFailed,
        Event::WalletPaid,
        Event::WalletDeclined,
        Event::PostPayApplied,
        Event::CardlessBound,
        Event::CardlessSubmitted,
        Event::Reviewed { approved: true },
        Event::Reviewed { approved: false },
        Event::PostPayCaptured,
        Event::CashReceived,
        Event::Settled,
        Event::RecurringCardBound,
        Event::BoundCardCharged { paid: true },
        Event::BoundCardCharged { paid: false },
    ];
}

/// Whether the table has a move from `from` to `to` (`None`: the order's creation, which
/// can only be `200`). For checking recorded histories.
pub fn is_allowed(from: Option<Prc>, to: Prc) -> bool {
    match from {
        None => to == Prc::Created,
        Some(from) => Event::ALL.iter().any(|&e| next(from, e) == Ok(to)),
    }
}

/// The states of a refund record (`refund_order`): queued until the batch (200 申請中),
/// then refunded (230) or, cancelled by `api/refundcancel` before the batch, 220. A
/// real-time refund is born 230. Nothing leaves 230 or 220.
pub fn refund_next(from: Prc, completed: bool) -> Option<Prc> {
    match (from, completed) {
        (Prc::Created, true) => Some(Prc::Refunded),
        (Prc::Created, false) => Some(Prc::Cancelled),
        _ => None,
    }
}

/// Whether the consumer can still pay an order in this state on the PayPage.
pub fn is_payable(prc: Prc) -> bool {
    prc == Prc::Created
}

/// The states whose payment may be refunded (SPEC §7): paid, settled, paid with another
/// amount. The store's guarded refund checks the same list.
pub const REFUNDABLE: [Prc; 3] = [Prc::Paid, Prc::Settled, Prc::PaidMismatch];

pub fn is_refundable(prc: Prc) -> bool {
    REFUNDABLE.contains(&prc)
}

/// The states in which a query record's `actual_cost` is the amount paid or authorised.
/// A capture in progress (247) shows 0 until the batch confirms the amount, as the
/// document's recorded capture answer does.
pub fn shows_amount_paid(prc: Prc) -> bool {
    matches!(
        prc,
        Prc::Paid | Prc::Authorised | Prc::Settled | Prc::PaidMismatch
    )
}

/// Whether an order ended unpaid: declined, failed, abandoned, past its deadline (the
/// PayPage sends the consumer to the merchant's failure URL). Only a code paid at the
/// counter after its deadline still arrives, as 290.
pub fn is_unpaid_final(prc: Prc) -> bool {
    matches!(
        prc,
        Prc::Failed | Prc::SystemError | Prc::Abandoned | Prc::Expired
    )
}

/// Whether a state counts as money received (for the PayPage result and redirects).
pub fn is_success(prc: Prc) -> bool {
    matches!(
        prc,
        Prc::Paid | Prc::Authorised | Prc::Capturing | Prc::PaidMismatch | Prc::Settled
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classifications_agree_with_each_other() {
        for prc in Prc::ALL {
            if is_refundable(prc) {
                assert!(is_success(prc) && shows_amount_paid(prc), "{prc}");
            }
            if is_unpaid_final(prc) {
                assert!(!is_success(prc) && !is_payable(prc), "{prc}");
                // Only an expired code can still be paid (late, at the counter).
                let paid_later = Event::ALL
                    .iter()
                    .any(|&e| next(prc, e).is_ok_and(is_success));
                assert_eq!(paid_later, prc == Prc::Expired, "{prc}");
            }
            if shows_amount_paid(prc) {
                assert!(is_success(prc), "{prc}");
            }
        }
        assert!(is_payable(Prc::Created) && !is_success(Prc::Created));
    }

    #[test]
    fn a_created_order_can_be_paid_once() {
        assert_eq!(next(Prc::Created, Event::CardPaid), Ok(Prc::Paid));
        assert!(next(Prc::Paid, Event::CardPaid).is_err());
        assert!(next(Prc::Paid, Event::Abandoned).is_err());
    }

    #[test]
    fn pending_resolves_either_way_and_only_from_pending() {
        assert_eq!(
            next(Prc::Pending, Event::PendingResolved { paid: true }),
            Ok(Prc::Paid)
        );
        assert_eq!(
            next(Prc::Pending, Event::PendingResolved { paid: false }),
            Ok(Prc::Failed)
        );
        assert!(next(Prc::Created, Event::PendingResolved { paid: true }).is_err());
    }

    #[test]
    fn an_authorisation_is_captured_or_cancelled_once() {
        assert_eq!(
            next(Prc::Authorised, Event::Captured { batch: false }),
            Ok(Prc::Paid)
        );
        assert_eq!(
            next(Prc::Authorised, Event::Captured { batch: true }),
            Ok(Prc::Capturing)
        );
        assert_eq!(next(Prc::Capturing, Event::CaptureConfirmed), Ok(Prc::Paid));
        assert_eq!(
            next(Prc::Authorised, Event::AuthorisationCancelled),
            Ok(Prc::Failed)
        );
        assert!(next(Prc::Capturing, Event::AuthorisationCancelled).is_err());
        assert!(next(Prc::Paid, Event::Captured { batch: false }).is_err());
        assert!(next(Prc::Capturing, Event::Captured { batch: true }).is_err());
    }

    #[test]
    fn pay_later_orders_are_paid_expire_or_are_paid_late() {
        assert_eq!(
            next(Prc::Created, Event::CounterCodeIssued),
            Ok(Prc::CvsIssued)
        );
        assert_eq!(
            next(Prc::CvsIssued, Event::PaidLater { exact: true }),
            Ok(Prc::Paid)
        );
        assert_eq!(
            next(Prc::VirtualAccountIssued, Event::PaidLater { exact: false }),
            Ok(Prc::PaidMismatch)
        );
        assert_eq!(
            next(Prc::CvsIssued, Event::DeadlinePassed),
            Ok(Prc::Expired)
        );
        assert_eq!(
            next(Prc::Expired, Event::PaidLater { exact: true }),
            Ok(Prc::PaidMismatch)
        );
        assert!(next(Prc::Paid, Event::DeadlinePassed).is_err());
        assert!(next(Prc::CvsIssued, Event::CardPaid).is_err());
        assert!(next(Prc::CvsIssued, Event::OnlineTransferFailed).is_err());
    }

    #[test]
    fn applications_are_reviewed_once() {
        assert_eq!(
            next(Prc::Created, Event::PostPayApplied),
            Ok(Prc::PostPayReview)
        );
        assert_eq!(
            next(Prc::PostPayReview, Event::Reviewed { approved: true }),
            Ok(Prc::PostPayApproved)
        );
        assert_eq!(
            next(Prc::PostPayApproved, Event::PostPayCaptured),
            Ok(Prc::Paid)
        );
        assert!(next(Prc::PostPayReview, Event::PostPayCaptured).is_err());
        assert_eq!(
            next(Prc::PostPayApproved, Event::Reviewed { approved: false }),
            Ok(Prc::Failed)
        );
        assert!(next(Prc::PostPayApproved, Event::Reviewed { approved: true }).is_err());
        assert_eq!(
            next(Prc::CardlessBound, Event::Abandoned),
            Ok(Prc::Abandoned)
        );
        assert_eq!(
            next(Prc::CardlessReview, Event::Reviewed { approved: true }),
            Ok(Prc::Paid)
        );
        assert!(next(Prc::CardlessReview, Event::Abandoned).is_err());
    }

    #[test]
    fn refund_records_leave_the_queue_once() {
        assert_eq!(refund_next(Prc::Created, true), Some(Prc::Refunded));
        assert_eq!(refund_next(Prc::Created, false), Some(Prc::Cancelled));
        assert_eq!(refund_next(Prc::Refunded, false), None);
        assert_eq!(refund_next(Prc::Cancelled, true), None);
    }

    #[test]
    fn final_states_take_no_event() {
        let events = Event::ALL;
        for from in [
            Prc::Failed,
            Prc::Abandoned,
            Prc::SystemError,
            Prc::PaidMismatch,
        ] {
            for &e in events {
                assert!(next(from, e).is_err(), "{from} took {e:?}");
            }
        }
    }
}
