//! One method per command of the document, with its request and answer types.

use crate::{Client, ClientError, Mode};
use mypay_protocol::Command;
use mypay_protocol::messages::{
    DisableDirectDebitRequest, DisableDirectDebitResponse, EwalletBindRequest, EwalletBindResponse,
    InvoiceRecord, IssueInvoiceRequest, IssueInvoiceResponse, OrderRequest, OrderResponse,
    QueryRecord, RecordResponse, RefundRequest, RefundResponse, SupportPayModeResponse,
    UidKeyRequest,
};

impl Client {
    /// The `uid` + `key` request of one transaction, naming this client's merchant (a
    /// dealer names it with [`Client::for_merchant`] requests instead).
    fn uid_key(&self, uid: u64, key: &str) -> UidKeyRequest {
        UidKeyRequest {
            store_uid: self.store_uid().map(str::to_owned),
            uid: Some(uid.to_string()),
            key: Some(key.to_owned()),
        }
    }

    /// `api/orders` (PayPage金流交易): a transaction, answered with its `uid`, `key` and
    /// the PayPage's `url`. Sent once.
    ///
    /// An e-wallet order charged in the background (`ewallet_type` 2) is answered with
    /// the charge's state instead of `200` (`250` paid, `300` declined, …) and no `url`:
    /// that answer is returned as it is, since it names the transaction; only an answer
    /// without a `uid` is a refusal.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// use mypay_client::protocol::messages::{Item, OrderRequest};
    /// use mypay_client::{Client, SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
    /// let client = Client::new(&gateway.store_url(), SAMPLE_STORE_UID, SAMPLE_STORE_KEY)?;
    /// let order = client
    ///     .create_order(&OrderRequest {
    ///         store_uid: Some(SAMPLE_STORE_UID.into()),
    ///         order_id: Some("DOC-ORDER-1".into()),
    ///         cost: Some("1200".into()),
    ///         user_id: Some("phper".into()),
    ///         ip: Some("127.0.0.1".into()),
    ///         pfn: Some("0".into()),
    ///         items: Some(vec![Item::new("1", "倚天劍模型", 1200, 1)]),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// assert_eq!(order.code, "200");
    /// assert!(order.url.contains("/payment/"));
    /// # Ok(()) });
    /// ```
    pub async fn create_order(&self, order: &OrderRequest) -> Result<OrderResponse, ClientError> {
        let answer = self.call_raw(Command::Orders, order).await?;
        let names_a_transaction = answer
            .get("uid")
            .and_then(|u| u.as_u64())
            .is_some_and(|u| u > 0);
        if names_a_transaction {
            return serde_json::from_value(answer).map_err(|e| ClientError::Answer(e.to_string()));
        }
        Err(crate::refusal(&answer).map_or_else(
            || ClientError::Answer(answer.to_string()),
            |r| ClientError::Refused {
                code: r.code,
                msg: r.msg,
            },
        ))
    }

    /// `api/queryorder` (交易查詢): the full query record. A read: asked again when the
    /// gateway could not be reached.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.paid_order(&client, "DOC-QUERY-1", 500).await?;
    /// let record = client.query_order(uid, &key).await?;
    /// assert_eq!(record.prc, "250");
    /// assert_eq!(record.cost, 500);
    /// # Ok(()) });
    /// ```
    pub async fn query_order(&self, uid: u64, key: &str) -> Result<QueryRecord, ClientError> {
        self.call(Command::QueryOrder, &self.uid_key(uid, key), None, true)
            .await
    }

    /// `api/refund` (交易退款): a refund of `cost` (the whole or a part), answered `B200`
    /// with its row (`refund_uid`, `refund_type`). Sent once: never retried.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.paid_order(&client, "DOC-REFUND-1", 800).await?;
    /// let refund = client.refund(uid, &key, 300).await?;
    /// assert_eq!(refund.code, "B200");
    /// assert_eq!(refund.row_data.expect("its row").cost, 300);
    /// # Ok(()) });
    /// ```
    pub async fn refund(
        &self,
        uid: u64,
        key: &str,
        cost: i64,
    ) -> Result<RefundResponse, ClientError> {
        let request = RefundRequest {
            store_uid: self.store_uid().map(str::to_owned),
            uid: Some(uid.to_string()),
            key: Some(key.to_owned()),
            cost: Some(cost.to_string()),
            ..Default::default()
        };
        self.refund_with(&request).await
    }

    /// `api/refund` with every field of the document's table (`rows` of a multi-row
    /// refund, `items`, `invoice_state`).
    pub async fn refund_with(
        &self,
        request: &RefundRequest,
    ) -> Result<RefundResponse, ClientError> {
        self.call(Command::Refund, request, Some("B200"), false)
            .await
    }

    /// `api/refundcancel` (取消退款): cancel a refund not yet sent on (`B200`).
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.paid_order(&client, "DOC-REFUNDCANCEL-1", 800).await?;
    /// # client.refund(uid, &key, 800).await?;
    /// match client.refund_cancel(uid, &key).await {
    ///     Ok(answer) => assert_eq!(answer.code, "B200"),
    ///     // A card refund done at once has nothing left to cancel: the document's B500.
    ///     Err(e) => assert_eq!(e.code(), Some("B500")),
    /// }
    /// # Ok(()) });
    /// ```
    pub async fn refund_cancel(&self, uid: u64, key: &str) -> Result<RefundResponse, ClientError> {
        self.call(
            Command::RefundCancel,
            &self.uid_key(uid, key),
            Some("B200"),
            false,
        )
        .await
    }

    /// `api/authorizedrequestpayment` (授權請款): capture `cost` of an authorisation, with
    /// the items actually charged (the document requires them). Sent once: never retried.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.authorised_order(&client, "DOC-CAPTURE-1", 900).await?;
    /// use mypay_client::protocol::messages::Item;
    /// let items = vec![Item::new("1", "倚天劍模型", 900, 1)];
    /// let captured = client.capture(uid, &key, 900, items).await?;
    /// assert_eq!(captured.content.prc, "250");
    /// # Ok(()) });
    /// ```
    pub async fn capture(
        &self,
        uid: u64,
        key: &str,
        cost: i64,
        items: Vec<mypay_protocol::messages::Item>,
    ) -> Result<RecordResponse, ClientError> {
        let request = RefundRequest {
            store_uid: self.store_uid().map(str::to_owned),
            uid: Some(uid.to_string()),
            key: Some(key.to_owned()),
            cost: Some(cost.to_string()),
            items: Some(items),
            ..Default::default()
        };
        self.capture_with(&request).await
    }

    /// `api/authorizedrequestpayment` with every field of the document's table (`items`).
    pub async fn capture_with(
        &self,
        request: &RefundRequest,
    ) -> Result<RecordResponse, ClientError> {
        self.call(
            Command::AuthorizedRequestPayment,
            request,
            Some("B200"),
            false,
        )
        .await
    }

    /// `api/cancelauthorization` (取消授權): release an authorisation.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.authorised_order(&client, "DOC-CANCELAUTH-1", 900).await?;
    /// let cancelled = client.cancel_authorization(uid, &key).await?;
    /// assert_eq!(cancelled.code, "B200");
    /// # Ok(()) });
    /// ```
    pub async fn cancel_authorization(
        &self,
        uid: u64,
        key: &str,
    ) -> Result<RecordResponse, ClientError> {
        self.call(
            Command::CancelAuthorization,
            &self.uid_key(uid, key),
            Some("B200"),
            false,
        )
        .await
    }

    /// `api/disabledirectdebit` (取消定期定額式扣款): stop a recurring series from
    /// `stop_time` (`YYYYMMDD`).
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (order_id, group_id) = gateway.recurring_series(&client, "DOC-STOP-1").await?;
    /// use mypay_client::protocol::messages::DisableDirectDebitRequest;
    /// let stopped = client
    ///     .disable_direct_debit(&DisableDirectDebitRequest {
    ///         store_uid: Some(mypay_client::SAMPLE_STORE_UID.into()),
    ///         order_id: Some(order_id),
    ///         group_id: Some(group_id),
    ///         stop_time: Some("20991231".into()),
    ///         stop_reason: Some("the customer moved".into()),
    ///     })
    ///     .await?;
    /// assert_eq!(stopped.code, "B200");
    /// # Ok(()) });
    /// ```
    pub async fn disable_direct_debit(
        &self,
        request: &DisableDirectDebitRequest,
    ) -> Result<DisableDirectDebitResponse, ClientError> {
        self.call(Command::DisableDirectDebit, request, Some("B200"), false)
            .await
    }

    /// `api/ewalletbind` (MYPAY電子錢包綁定): the page where the consumer binds a card.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// use mypay_client::protocol::messages::EwalletBindRequest;
    /// let page = client
    ///     .ewallet_bind(&EwalletBindRequest {
    ///         store_uid: Some(mypay_client::SAMPLE_STORE_UID.into()),
    ///         user_id: Some("wallet-user".into()),
    ///         user_sn: Some("A123456789".into()),
    ///         user_cellphone_code: Some("886".into()),
    ///         user_cellphone: Some("918123123".into()),
    ///         user_real_name: Some("金城武".into()),
    ///         pfn: Some("CREDITCARD".into()),
    ///         ip: Some("127.0.0.1".into()),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// assert_eq!(page.code, "B200");
    /// # Ok(()) });
    /// ```
    pub async fn ewallet_bind(
        &self,
        request: &EwalletBindRequest,
    ) -> Result<EwalletBindResponse, ClientError> {
        self.call(Command::EwalletBind, request, Some("B200"), false)
            .await
    }

    /// `api/issueinvoice` (電子發票開立): issue the e-invoice of a paid transaction (its
    /// `uid` and `key` set in `request`); a refusal (`B500`) is an error naming why.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.paid_order(&client, "DOC-ISSUE-1", 500).await?;
    /// use mypay_client::protocol::messages::IssueInvoiceRequest;
    /// let issued = client
    ///     .issue_invoice(&IssueInvoiceRequest {
    ///         store_uid: Some(mypay_client::SAMPLE_STORE_UID.into()),
    ///         uid: Some(uid.to_string()),
    ///         key: Some(key.clone()),
    ///         invoice_input_type: Some(1),
    ///         invoice_cloud_type: Some("2".into()),
    ///         invoice_mobile_code: Some("/NFVIAZP".into()),
    ///         ..Default::default()
    ///     })
    ///     .await;
    /// match issued {
    ///     Ok(answer) => assert_eq!(answer.code, "B200"),
    ///     // Refused, with the document's code and why (say, no word track registered).
    ///     Err(e) => assert_eq!(e.code(), Some("B500"), "{e}"),
    /// }
    /// # Ok(()) });
    /// ```
    pub async fn issue_invoice(
        &self,
        request: &IssueInvoiceRequest,
    ) -> Result<IssueInvoiceResponse, ClientError> {
        self.call(Command::IssueInvoice, request, Some("B200"), false)
            .await
    }

    /// `api/invoice` (電子發票查詢): a transaction's e-invoice (`state` 0 when it has none).
    /// A read.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// # let (uid, key) = gateway.paid_order(&client, "DOC-INVOICE-1", 500).await?;
    /// let invoice = client.invoice(uid, &key).await?;
    /// assert_eq!(invoice.state, 0, "this order asked for no invoice");
    /// # Ok(()) });
    /// ```
    pub async fn invoice(&self, uid: u64, key: &str) -> Result<InvoiceRecord, ClientError> {
        self.call(Command::Invoice, &self.uid_key(uid, key), None, true)
            .await
    }

    /// `api/paymentsupportpaymode` (可用支付工具查詢): the tool codes the merchant may use
    /// for `cost` in `currency`. A read.
    ///
    /// ```
    /// # mypay_client::doc_support::run(|gateway| async move {
    /// # let client = gateway.sample_client()?;
    /// let tools = client.payment_modes(100, "TWD").await?;
    /// assert!(tools.iter().any(|t| t == "CREDITCARD"));
    /// // Below one dollar nothing is payable: the document's B500.
    /// assert_eq!(client.payment_modes(0, "TWD").await.unwrap_err().code(), Some("B500"));
    /// # Ok(()) });
    /// ```
    pub async fn payment_modes(
        &self,
        cost: i64,
        currency: &str,
    ) -> Result<Vec<String>, ClientError> {
        let mut payload = serde_json::json!({ "cost": cost.to_string(), "currency": currency });
        if let Mode::Store { store_uid } = &self.mode {
            payload["store_uid"] = serde_json::Value::String(store_uid.clone());
        }
        let answer: SupportPayModeResponse = self
            .call(Command::PaymentSupportPayMode, &payload, Some("B200"), true)
            .await?;
        Ok(answer.content)
    }
}
