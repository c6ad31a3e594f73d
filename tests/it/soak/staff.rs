//! Staff at work: signing in on the API and the console, reading the queue and tickets both
//! ways, and replying through the API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::load::{
    Auth, Body, Client, Kinds, Rng, Shared, Stats, hidden_value, pause, until_answered,
};
use std::sync::Arc;

pub const STAFF_PASSWORD: &str = "soak-staff-password-2026";

/// A supervisor at work: signs in (API and console), reads the queue and tickets both ways,
/// and answers about one ticket in two looked at.
pub fn staff(shared: Arc<Shared>, email: String, beat: Duration, seed: u64) -> Kinds {
    let client = Client::new(&shared);
    let mut rng = Rng::new(seed);
    let mut kinds = Kinds::new();
    let (mut token, mut cookie) = (String::new(), String::new());
    let mut round = 0usize;
    while !shared.stopping() {
        let began = Instant::now();
        if round.is_multiple_of(40) {
            let stats = kinds.entry("staff sign-in").or_default();
            match sign_in(&shared, &client, stats, &email) {
                Some((t, c)) => (token, cookie) = (t, c),
                None => break,
            }
        }
        round += 1;
        let reads = kinds.entry("staff read").or_default();
        let Some(queue) = read(
            &shared,
            &client,
            reads,
            "/api/v1/tickets?status=new&limit=50",
            Auth::Bearer(&token),
        ) else {
            break;
        };
        let ids: Vec<i64> = serde_json::from_str::<Value>(&queue)
            .ok()
            .and_then(|q| {
                q["items"]
                    .as_array()
                    .map(|i| i.iter().filter_map(|t| t["id"].as_i64()).collect())
            })
            .unwrap_or_default();
        if ids.is_empty() {
            pause(&shared, began, beat);
            continue;
        }
        let id = ids[rng.below(ids.len())];
        if read(
            &shared,
            &client,
            reads,
            &format!("/api/v1/tickets/{id}"),
            Auth::Bearer(&token),
        )
        .is_none()
        {
            break;
        }
        if round.is_multiple_of(2) {
            for path in ["/desk".to_string(), format!("/desk/tickets/{id}")] {
                if read(&shared, &client, reads, &path, Auth::Cookie(&cookie)).is_none() {
                    break;
                }
            }
        }
        if rng.below(2) == 0 {
            let replies = kinds.entry("reply").or_default();
            reply(&shared, &client, replies, &token, id);
        }
        pause(&shared, began, beat);
    }
    kinds
}

fn sign_in(
    shared: &Shared,
    client: &Client,
    stats: &mut Stats,
    email: &str,
) -> Option<(String, String)> {
    let began = Instant::now();
    stats.attempted += 1;
    let login = json!({"email": email, "password": STAFF_PASSWORD});
    let answer = until_answered(shared, stats, || {
        client.once("POST", "/api/v1/auth/login", Auth::None, Body::Json(&login))
    })?;
    let token = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string));
    let Some(token) = token.filter(|_| answer.status == 200) else {
        stats.unexpected(format!("API sign-in answered {}", answer.status));
        return None;
    };
    // The console, as a browser signs in: the page first (its token), then the form.
    let page = until_answered(shared, stats, || {
        client.once("GET", "/desk", Auth::None, Body::None)
    })?;
    let login_token = hidden_value(&page.body, "login_token").unwrap_or_default();
    let fields = [
        ("email", email),
        ("password", STAFF_PASSWORD),
        ("next", "/desk"),
        ("login_token", login_token.as_str()),
    ];
    let answer = until_answered(shared, stats, || {
        client.once("POST", "/desk/login", Auth::None, Body::Form(&fields))
    })?;
    if answer.status != 303 || answer.cookie.is_empty() {
        stats.unexpected(format!("console sign-in answered {}", answer.status));
        return None;
    }
    stats.acknowledged += 1;
    stats.latencies.push(began.elapsed());
    Some((token, answer.cookie))
}

/// A staff read that must answer 200; its body.
fn read(
    shared: &Shared,
    client: &Client,
    stats: &mut Stats,
    path: &str,
    auth: Auth<'_>,
) -> Option<String> {
    let began = Instant::now();
    stats.attempted += 1;
    let answer = until_answered(shared, stats, || client.once("GET", path, auth, Body::None))?;
    if answer.status != 200 {
        stats.unexpected(format!(
            "GET {} answered {}",
            path.split('?').next().unwrap_or(path),
            answer.status
        ));
        return None;
    }
    stats.acknowledged += 1;
    stats.latencies.push(began.elapsed());
    Some(answer.body)
}

fn reply(shared: &Shared, client: &Client, stats: &mut Stats, token: &str, id: i64) {
    let began = Instant::now();
    let marker = shared.marker("reply");
    stats.attempted += 1;
    let body = json!({"body": format!("ご相談ありがとうございます。{marker} 一度お話を伺えればと思います。")});
    let path = format!("/api/v1/tickets/{id}/replies");
    let Some(answer) = until_answered(shared, stats, || {
        client.once("POST", &path, Auth::Bearer(token), Body::Json(&body))
    }) else {
        return;
    };
    if answer.status == 202 {
        stats.acknowledged += 1;
        stats.latencies.push(began.elapsed());
        shared.ledger.lock().unwrap().replies.push(marker);
    } else {
        stats.unexpected(format!("POST replies answered {}", answer.status));
    }
}
