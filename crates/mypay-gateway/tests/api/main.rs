//! Black-box tests: the gateway on a random loopback port with a fresh database, driven
//! over HTTP like a merchant and a consumer, with notices received on a local receiver.

mod durability;
mod envelope;
mod helpers;
mod modes;
mod notifications;
mod orders;
mod paypage;
mod sample_clients;
