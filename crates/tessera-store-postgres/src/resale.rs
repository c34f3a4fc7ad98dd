//! Transfers between fans and the resale market in SQL, under the ticket locks of `gates.rs`.

use crate::gates::*;
use crate::rows::lock_account;
use crate::sql::*;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;

pub(crate) async fn create_transfer<C: GenericClient>(
    c: &C,
    code: &str,
    from: AccountId,
    to: &Email,
    now: Timestamp,
) -> Result<Transfer> {
    let ticket = held_ticket(c, code, from).await?;
    let r = row_opt(c, "SELECT id FROM accounts WHERE email = $1", &[&to.as_str()])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account with email {}", to.as_str())))?;
    let to_account: i64 = get(&r, 0)?;
    if to_account == from.0 {
        return Err(StoreError::Conflict("a ticket cannot be transferred to its own holder".into()));
    }
    ensure_not_offered(c, ticket).await?;
    // The holder of an entered ticket would be refused at the gate as "already used".
    ensure_unused(c, ticket).await?;
    let r = row(
        c,
        "INSERT INTO transfers (ticket_id, from_account, to_account, status, created_at) \
         VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
        &[&ticket, &from.0, &to_account, &now.0],
    )
    .await?;
    transfer_by_id(c, get(&r, 0)?).await
}

/// Which side of a transfer an account must be on.
#[derive(Clone, Copy)]
enum Party {
    Sender,
    Recipient,
}

/// Locks the ticket of transfer `id`, then returns the transfer if it is pending and `who`
/// is its `party`; `NotFound` for anyone else.
async fn pending_transfer<C: GenericClient>(c: &C, id: i64, party: Party, who: AccountId) -> Result<Transfer> {
    lock_ticket(c, transfer_by_id(c, id).await?.ticket_id.0).await?;
    let t = transfer_by_id(c, id).await?;
    let side = match party {
        Party::Sender => t.from_account,
        Party::Recipient => t.to_account,
    };
    if side != who {
        return Err(StoreError::NotFound(format!("transfer {id}")));
    }
    if t.status != TransferStatus::Pending {
        return Err(StoreError::State(format!("transfer {id} is already {}", t.status.as_str())));
    }
    Ok(t)
}

async fn close_transfer<C: GenericClient>(c: &C, id: i64, status: TransferStatus, now: Timestamp) -> Result<Transfer> {
    exec(c, "UPDATE transfers SET status = $2, closed_at = $3 WHERE id = $1", &[&id, &status.as_str(), &now.0]).await?;
    transfer_by_id(c, id).await
}

pub(crate) async fn cancel_transfer<C: GenericClient>(
    c: &C,
    id: i64,
    from: AccountId,
    now: Timestamp,
) -> Result<Transfer> {
    pending_transfer(c, id, Party::Sender, from).await?;
    close_transfer(c, id, TransferStatus::Cancelled, now).await
}

pub(crate) async fn accept_transfer<C: GenericClient>(
    c: &C,
    id: i64,
    to: AccountId,
    now: Timestamp,
) -> Result<Transfer> {
    lock_account(c, to).await?;
    let t = pending_transfer(c, id, Party::Recipient, to).await?;
    if lock_ticket(c, t.ticket_id.0).await? != Some(t.from_account) {
        return Err(StoreError::State("the sender no longer holds this ticket".into()));
    }
    // The ticket may have entered since the offer.
    ensure_unused(c, t.ticket_id.0).await?;
    move_ticket(c, t.ticket_id.0, to, RevokeReason::Transferred, now).await?;
    close_transfer(c, id, TransferStatus::Accepted, now).await
}

pub(crate) async fn transfers<C: GenericClient>(c: &C, account: AccountId) -> Result<Vec<Transfer>> {
    const SQL: &str = concat!(
        transfer_select!(),
        " WHERE x.status = 'pending' AND (x.from_account = $1 OR x.to_account = $1) ORDER BY x.id"
    );
    rows(c, SQL, &[&account.0]).await?.iter().map(transfer_row).collect()
}

pub(crate) async fn list_for_resale<C: GenericClient>(
    c: &C,
    code: &str,
    seller: AccountId,
    (buyer_fee, seller_fee): (Cents, Cents),
    now: Timestamp,
) -> Result<Listing> {
    let ticket = held_ticket(c, code, seller).await?;
    ensure_not_offered(c, ticket).await?;
    ensure_unused(c, ticket).await?;
    let price: i64 = get(&row(c, "SELECT price_cents FROM tickets WHERE id = $1", &[&ticket]).await?, 0)?;
    if buyer_fee.0 < 0 || seller_fee.0 < 0 || seller_fee.0 > price {
        return Err(StoreError::State(format!(
            "resale fees must not be negative, and the seller's at most the price ({})",
            Cents(price)
        )));
    }
    let r = row(
        c,
        "INSERT INTO resale_listings (ticket_id, seller, price_cents, buyer_fee_cents, seller_fee_cents, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6) RETURNING id",
        &[&ticket, &seller.0, &price, &buyer_fee.0, &seller_fee.0, &now.0],
    )
    .await?;
    listing_by_id(c, get(&r, 0)?).await
}

/// Locks the listing's ticket, then returns the listing if it is still open.
async fn open_listing<C: GenericClient>(c: &C, id: i64) -> Result<Listing> {
    lock_ticket(c, listing_by_id(c, id).await?.ticket_id.0).await?;
    let l = listing_by_id(c, id).await?;
    if l.status != ListingStatus::Open {
        return Err(StoreError::State(format!("listing {id} is no longer on sale ({})", l.status.as_str())));
    }
    Ok(l)
}

pub(crate) async fn cancel_listing<C: GenericClient>(
    c: &C,
    id: i64,
    seller: AccountId,
    now: Timestamp,
) -> Result<Listing> {
    if listing_by_id(c, id).await?.seller != seller {
        return Err(StoreError::NotFound(format!("listing {id}")));
    }
    open_listing(c, id).await?;
    exec(c, "UPDATE resale_listings SET status = 'cancelled', closed_at = $2 WHERE id = $1", &[&id, &now.0]).await?;
    listing_by_id(c, id).await
}

pub(crate) async fn open_listings<C: GenericClient>(c: &C, session: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
    const SQL: &str = concat!(
        listing_select!(),
        " WHERE l.status = 'open' AND ($1::TEXT IS NULL OR s.code = $1) ORDER BY l.created_at, l.id LIMIT $2"
    );
    rows(c, SQL, &[&session, &limit.max(0)]).await?.iter().map(listing_row).collect()
}

pub(crate) async fn buy_resale<C: GenericClient>(c: &C, req: &BuyResale) -> Result<Listing> {
    lock_account(c, req.buyer).await?;
    let l = open_listing(c, req.listing).await?;
    if l.seller == req.buyer {
        return Err(StoreError::Conflict("you cannot buy your own listing".into()));
    }
    // Listing refuses a used ticket; this refuses one used after it was listed.
    ensure_unused(c, l.ticket_id.0).await?;
    if lock_ticket(c, l.ticket_id.0).await? != Some(l.seller) {
        return Err(StoreError::State("the seller no longer holds this ticket".into()));
    }
    move_ticket(c, l.ticket_id.0, req.buyer, RevokeReason::Resold, req.now).await?;
    exec(
        c,
        "UPDATE resale_listings SET status = 'sold', buyer = $2, payment_ref = $3, closed_at = $4 WHERE id = $1",
        &[&l.id, &req.buyer.0, &req.payment_ref, &req.now.0],
    )
    .await?;
    let amount = Cents(l.price.0 + l.buyer_fee.0);
    crate::payments::insert_sale_payment(c, &req.payment_ref, req.buyer, PaymentKind::Resale, amount, l.id, req.now)
        .await?;
    listing_by_id(c, l.id).await
}
