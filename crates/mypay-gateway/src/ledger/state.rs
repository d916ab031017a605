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
        (from, event) => return Err(TransitionRefused { from, event }),
    };
    Ok(to)
}

/// Whether the consumer can still pay an order in this state on the PayPage.
pub fn is_payable(prc: Prc) -> bool {
    prc == Prc::Created
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
    fn final_states_take_no_event() {
        let events = [
            Event::CardPaid,
            Event::CardAuthorised,
            Event::Declined,
            Event::Unavailable,
            Event::AcquirerPending,
            Event::PaidWithMismatch,
            Event::PendingResolved { paid: true },
            Event::Abandoned,
        ];
        for from in [
            Prc::Failed,
            Prc::Abandoned,
            Prc::SystemError,
            Prc::PaidMismatch,
        ] {
            for e in events {
                assert!(next(from, e).is_err(), "{from} took {e:?}");
            }
        }
    }
}
