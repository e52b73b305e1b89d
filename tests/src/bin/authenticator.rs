//! Plays a supervisor's authenticator app for the shell tests (Swift and Kotlin drive the
//! real server and CLI): enrolls an authenticator for the user through the console's first
//! sign-in, then prints the next code, for `fieldnote login --code`.
//!
//! Usage: `fieldnote-authenticator <server-url> <user> <password>`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, user, password] = args.as_slice() else {
        eprintln!("usage: fieldnote-authenticator <server-url> <user> <password>");
        return std::process::ExitCode::from(2);
    };
    let secret = fieldnote_tests::process::enroll_authenticator(url, user, password);
    println!(
        "{}",
        fieldnote_tests::process::authenticator_code(url, user, &secret)
    );
    std::process::ExitCode::SUCCESS
}
