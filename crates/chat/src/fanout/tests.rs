//! The shards against a real TCP member and forwarded ones.

use super::*;
use crate::event::Event;

fn ev(text: &str) -> Arc<Shared> {
    Shared::new(Event::notice(text), None)
}

#[tokio::test]
async fn slow_member_is_dropped_and_the_others_get_everything_in_order() {
    // Never-reading members are cut after the send timeout, not at the
    // queue bound.
    let bounds = SendBounds { queue: 4096, backlog: 8 << 20, timeout: Duration::from_millis(300) };
    let fanout = Fanout::with_bounds(2, bounds, Duration::ZERO);
    let room: Arc<str> = Arc::from("lobby");
    // A TCP member that never reads, with a small kernel buffer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server_side, _) = listener.accept().await.unwrap();
    let _ = socket2::SockRef::from(&server_side).set_send_buffer_size(4096);
    let (dropped_tx, dropped_rx) = oneshot::channel();
    fanout.attach(
        MemberId(1),
        Sink::Tcp { stream: Arc::new(Wire::Tcp(server_side)), dropped: dropped_tx, pacing: Pacing::default() },
    );
    fanout.join(MemberId(1), room.clone());
    // A forwarded member on the other shard.
    let (tx, mut rx) = mpsc::unbounded_channel();
    fanout.attach(MemberId(2), Sink::Forward(tx));
    fanout.join(MemberId(2), room.clone());
    let line = "x".repeat(200);
    for i in 0..2000 {
        fanout.publish(&room, ev(&format!("{i} {line}")));
        if i == 10 {
            fanout.direct(MemberId(2), ev("just for you"));
        }
    }
    tokio::time::timeout(Duration::from_secs(5), dropped_rx).await.unwrap().unwrap();
    let mut got = Vec::new();
    while got.len() < 2001 {
        got.push(rx.recv().await.unwrap().event.text.clone());
    }
    assert_eq!(got[11], "just for you");
    assert!(got[12].starts_with("11 "));
    assert!(got[2000].starts_with("1999 "));
    // Gone from its shard: nothing is left to hand back.
    let rest = fanout.detach(MemberId(1)).await;
    assert!(rest.bytes.is_empty() && rest.events.is_empty());
}

fn in_room(text: &str, room: &str) -> Arc<Shared> {
    Shared::new(Event::notice(text).in_room(room), None)
}

/// Reads what a TCP member's client end got until `last` arrives.
async fn read_until(client: &mut tokio::net::TcpStream, last: &str) -> Vec<String> {
    use tokio::io::AsyncReadExt;
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while !got.lines().any(|l| l.ends_with(last)) {
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed; got {got:?}");
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    got.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn several_rooms_tags_once_only_delivery_and_parting() {
    let fanout = Fanout::start(1, 64 * 1024, Duration::ZERO);
    let (dev, ops): (Arc<str>, Arc<str>) = (Arc::from("dev"), Arc::from("ops"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server_side, _) = listener.accept().await.unwrap();
    let (dropped, _keep) = oneshot::channel();
    let tcp = Sink::Tcp { stream: Arc::new(Wire::Tcp(server_side)), dropped, pacing: Pacing::default() };
    fanout.attach(MemberId(1), tcp);
    // Forwarded members around it, so its place in the room lists moves.
    let mut fwd = Vec::new();
    for id in 2..5 {
        let (tx, rx) = mpsc::unbounded_channel();
        fanout.attach(MemberId(id), Sink::Forward(tx));
        fanout.join(MemberId(id), dev.clone());
        fwd.push(rx);
    }
    fanout.join(MemberId(1), dev.clone());
    fanout.publish(&dev, in_room("one room", "dev"));
    fanout.join(MemberId(1), ops.clone());
    fanout.join(MemberId(1), ops.clone()); // twice is once
    fanout.publish(&dev, in_room("two rooms", "dev"));
    fanout.publish(&ops, in_room("ops only", "ops"));
    fanout.publish_to_rooms(Arc::from([dev.clone(), ops.clone()]), ev("quit once"));
    // Member 2 leaves dev: the others' places are fixed up.
    fanout.part(MemberId(2), dev.clone());
    fanout.part(MemberId(1), ops.clone());
    fanout.publish(&dev, in_room("back to one", "dev"));
    fanout.publish(&ops, in_room("not for me", "ops"));
    fanout.publish(&dev, in_room("last", "dev"));
    let got = read_until(&mut client, "last").await;
    assert_eq!(got, ["* one room", "[dev] * two rooms", "[ops] * ops only", "* quit once", "* back to one", "* last"]);
    let texts = |rx: &mut mpsc::UnboundedReceiver<Arc<Shared>>| {
        let mut v = Vec::new();
        while let Ok(e) = rx.try_recv() {
            v.push(e.event.text.clone());
        }
        v
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(texts(&mut fwd[0]), ["one room", "two rooms", "quit once"]);
    for rx in &mut fwd[1..] {
        assert_eq!(texts(rx), ["one room", "two rooms", "quit once", "back to one", "last"]);
    }
}
