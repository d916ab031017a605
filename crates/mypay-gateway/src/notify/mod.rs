//! Transaction notices (交易回傳, SPEC §6): which notice a state change owes, to which of
//! the merchant's URLs, with which body. Delivery is [`worker`]'s.

pub mod mail;
pub mod resolver;
pub mod worker;

use crate::ledger::merchant::MerchantSettings;
use crate::records;
use crate::store::{NewNotice, OrderRow, Transition};
use mypay_protocol::notice::NoticeKind;

/// The order as it will be once `t` is applied (for building the notice that `t` writes).
pub fn project(order: &OrderRow, t: &Transition) -> OrderRow {
    let mut after = order.clone();
    let f = &t.facts;
    after.prc = t.to;
    after.retmsg = t.retmsg.clone();
    after.updated_at = t.at;
    if t.finishes {
        after.finished_at = Some(t.at);
    }
    macro_rules! take {
        ($($field:ident),*) => { $( if f.$field.is_some() { after.$field = f.$field.clone(); } )* };
    }
    take!(
        paid_pfn,
        cardno,
        card_type,
        issuing_bank,
        issuing_bank_uid,
        acode,
        supplier_code,
        actual_cost,
        captured,
        pay_deadline,
        result_content_type,
        result_content,
        bank_id,
        installment,
        redeem,
        appropriation_date,
        group_id
    );
    if f.nois.is_some() {
        after.nois = f.nois;
    }
    if let Some(tt) = f.trans_type {
        after.trans_type = tt;
    }
    after
}

/// The notice of `kind` for `order` (as it is after the change), or `None` when the
/// merchant has no URL for that kind.
pub fn notice_for(
    settings: &MerchantSettings,
    order: &OrderRow,
    kind: NoticeKind,
) -> Option<NewNotice> {
    let url = settings.notify.for_kind(kind)?;
    Some(NewNotice {
        uid: order.uid,
        ref_uid: 0,
        store_uid: order.store_uid.clone(),
        kind: kind.as_str().to_owned(),
        prc: order.prc.code().to_owned(),
        url: url.to_owned(),
        body: records::transaction_notice(order).to_form(),
        max_attempts: settings.notice_retry.attempts.max(1),
        interval_secs: settings.notice_retry.interval_secs.max(1),
    })
}

/// Kind of the refund-complete notice in the outbox.
pub const REFUND_KIND: &str = "refund";

/// The refund-complete notice (退款完成回傳資訊) of `refund`, or `None` when the merchant
/// has no URL for it. Same retry schedule as transaction notices.
pub fn refund_notice(
    settings: &MerchantSettings,
    order: &OrderRow,
    refund: &crate::store::ReversalRow,
) -> Option<NewNotice> {
    let url = settings.notify.for_refunds()?;
    Some(NewNotice {
        uid: order.uid,
        ref_uid: refund.id,
        store_uid: order.store_uid.clone(),
        kind: REFUND_KIND.to_owned(),
        prc: refund.prc.code().to_owned(),
        url: url.to_owned(),
        body: records::refund_row(order, refund).to_form(),
        max_attempts: settings.notice_retry.attempts.max(1),
        interval_secs: settings.notice_retry.interval_secs.max(1),
    })
}

/// Kind of the e-wallet notice (電子錢包虛擬卡號回傳資訊) in the outbox.
pub const EWALLET_KIND: &str = "ewallet";

/// The document's schedule for the e-wallet notice: every 15 minutes, 4 times.
pub const EWALLET_ATTEMPTS: i64 = 4;
pub const EWALLET_INTERVAL_SECS: i64 = 15 * 60;

/// The e-wallet notice of bind request `wallet_id`, or `None` when the merchant has no
/// URL for it. It names no order (`uid` 0): the merchant matches it by `user_id`.
pub fn ewallet_notice(
    settings: &MerchantSettings,
    store_uid: &str,
    wallet_id: u64,
    notice: &mypay_protocol::notice::EwalletNotice,
) -> Option<NewNotice> {
    let url = settings.notify.for_ewallet()?;
    Some(NewNotice {
        uid: 0,
        ref_uid: wallet_id,
        store_uid: store_uid.to_owned(),
        kind: EWALLET_KIND.to_owned(),
        prc: notice.enable.clone(),
        url: url.to_owned(),
        body: notice.to_form(),
        max_attempts: EWALLET_ATTEMPTS,
        interval_secs: EWALLET_INTERVAL_SECS,
    })
}
