//! Throwaway PostgreSQL databases beside the one a URL names (the server `scripts/postgres`
//! starts), for the benchmarks and the process-level tests: each run gets an empty database
//! of its own.

/// Creates an empty database beside the one `base` names; returns its URL.
pub fn fresh_database(base: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let name = format!("fieldnote_run_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(base, postgres::NoTls)?;
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let (prefix, _) = base
        .rsplit_once('/')
        .ok_or("the PostgreSQL URL names no database")?;
    Ok(format!("{prefix}/{name}"))
}

/// Drops a database [`fresh_database`] made (best effort: a leftover only takes disk).
pub fn drop_database(base: &str, url: &str) {
    if let (Ok(mut client), Some((_, name))) = (
        postgres::Client::connect(base, postgres::NoTls),
        url.rsplit_once('/'),
    ) {
        let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
