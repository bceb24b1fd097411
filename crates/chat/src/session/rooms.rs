//! A line member's room commands: `/join`, `/part`, `/who`, `/rooms`,
//! `/topic`, `/kick`, `/ban`, `/unban`, `/op` and friends, `/mode`,
//! `/invite`, `/away`, `/whois`. Each is one registry request; the session
//! keeps its own view of its rooms up to date from the answers.

use std::sync::Arc;

use super::{err, notice, Session};
use crate::command::Command;
use crate::event::Shared;
use crate::hub::{parse_modes, HubError, Mode, ModeChange, ModeOutcome, Seated};
use crate::notice::NO_ROOM;
use crate::text::normalize_room;

/// How long ago `ms` was, for `/whois` (`3m 12s`).
fn ago(ms: i64) -> String {
    let s = (crate::event::now_ms() - ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, s / 60 % 60),
    }
}

impl Session {
    /// The room a command acts on: `#ROOM` if given, else the current one.
    fn target_room(&self, room: Option<&str>) -> Result<Arc<str>, HubError> {
        match (room, &self.current) {
            // Normalised here too, so replies name it as stored (`#Dev` is `dev`).
            (Some(r), _) => Ok(normalize_room(r).map_or_else(|_| Arc::from(r), |n| Arc::from(n.as_str()))),
            (None, Some(c)) => Ok(c.room.clone()),
            (None, None) => Err(HubError::new(crate::hub::ErrorCode::NotOnChannel, NO_ROOM)),
        }
    }

    /// Handles a room command; replies go to `out`.
    pub(super) async fn room_command(&mut self, cmd: Command<'_>, out: &mut Vec<Arc<Shared>>) {
        if let Err(e) = self.try_room_command(cmd, out).await {
            out.push(err(e.text));
        }
    }

    async fn try_room_command(&mut self, cmd: Command<'_>, out: &mut Vec<Arc<Shared>>) -> Result<(), HubError> {
        let hub = self.chat.hub.clone();
        let id = self.id;
        match cmd {
            Command::Join { room, key } => {
                let info = hub.join(id, room, key).await?;
                let seat = Seated { room: info.room.clone(), gate: info.gate.clone() };
                if !info.fresh {
                    self.current = Some(seat);
                    out.push(Shared::new(crate::notice::current(Some(&info.room), ""), None));
                    return Ok(());
                }
                self.rooms.push(seat.clone());
                self.current = Some(seat);
                // Through the shard, so they follow the member's own join
                // notice whatever its transport (a WebSocket or UDP task
                // would otherwise send its replies ahead of it).
                let topic = info.topic.as_ref().map(|t| t.text.as_str());
                self.chat.fanout.direct(id, Shared::new(crate::notice::names(&info.room, topic, &info.names), None));
                if let Some(t) = &info.topic {
                    let line = format!("topic of {}: {} (set by {})", info.room, t.text, t.set_by);
                    self.chat.fanout.direct(id, notice(line));
                }
                self.replay(out).await;
            }
            Command::Part(args) => {
                let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
                let named = normalize_room(first).ok().filter(|r| self.rooms.iter().any(|s| *s.room == **r));
                let (room, reason) = match named {
                    Some(r) => (Arc::from(r.as_str()), rest.trim()),
                    None => (self.target_room(None)?, args),
                };
                let current = hub.part(id, &room, reason).await?;
                self.rooms.retain(|s| s.room != room);
                self.current = current.and_then(|c| self.rooms.iter().find(|s| s.room == c).cloned());
                let now = self.current.as_ref().map(|c| c.room.clone());
                out.push(Shared::new(crate::notice::current(now.as_deref(), &room), None));
            }
            Command::Who(room) => {
                let names = hub.names(&self.target_room(room)?).await?;
                let topic = names.topic.as_ref().map(|t| t.text.as_str());
                out.push(Shared::new(crate::notice::names(&names.room, topic, &names.names), None));
            }
            Command::Rooms => {
                let list: Vec<String> = hub
                    .list()
                    .await
                    .iter()
                    .map(|r| match &r.topic {
                        Some(t) => format!("{} ({}) \"{t}\"", r.name, r.members),
                        None => format!("{} ({})", r.name, r.members),
                    })
                    .collect();
                out.push(notice(format!("rooms: {}", list.join(", "))));
            }
            Command::Topic { room, text } => {
                let room = self.target_room(room)?;
                match text {
                    // Set: the room (this member too) gets the notice.
                    Some(t) => {
                        hub.topic(id, &room, Some(t)).await?;
                    }
                    None => match hub.topic(id, &room, None).await? {
                        Some(t) => out.push(notice(format!("topic of {room}: {} (set by {})", t.text, t.set_by))),
                        None => out.push(notice(format!("{room} has no topic"))),
                    },
                }
            }
            Command::Kick { room, nick, reason } => hub.kick(id, &self.target_room(room)?, nick, reason).await?,
            Command::Ban { room, mask: None, .. } => {
                let room = self.target_room(room)?;
                let bans = hub.bans(&room).await?;
                if bans.is_empty() {
                    out.push(notice(format!("no bans in {room}")));
                } else {
                    let list: Vec<String> = bans.iter().map(|b| format!("{} (by {})", b.mask, b.set_by)).collect();
                    out.push(notice(format!("bans of {room}: {}", list.join(", "))));
                }
            }
            Command::Ban { room, mask: Some(mask), add } => {
                let room = self.target_room(room)?;
                let done = hub.mode(id, &room, vec![ModeChange::with(add, Mode::Ban, mask)]).await?;
                self.mode_replies(&room, done, out);
            }
            Command::Grant { room, nick, mode, add } => {
                let room = self.target_room(room)?;
                let done = hub.mode(id, &room, vec![ModeChange::with(add, mode, nick)]).await?;
                self.mode_replies(&room, done, out);
            }
            Command::Mode { room, changes: None } => {
                let room = self.target_room(room)?;
                let info = hub.mode_query(id, &room).await?;
                out.push(notice(format!("modes of {room}: {}", info.modes)));
            }
            Command::Mode { room, changes: Some(spec) } => {
                let mut words = spec.split_whitespace();
                let flags = words.next().unwrap_or("");
                let args: Vec<&str> = words.collect();
                let changes = parse_modes(flags, &args)?;
                if changes.iter().all(|c| c.mode == Mode::Ban && c.arg.is_none()) {
                    // `/mode +b`: the ban list.
                    return Box::pin(self.try_room_command(Command::Ban { room, mask: None, add: true }, out)).await;
                }
                let room = self.target_room(room)?;
                let done = hub.mode(id, &room, changes).await?;
                self.mode_replies(&room, done, out);
            }
            Command::Invite { nick, room } => {
                let room = self.target_room(room)?;
                let nick = hub.invite(id, nick, &room).await?;
                out.push(notice(format!("invited {nick} to {room}")));
            }
            Command::Away(text) => {
                hub.away(id, text).await?;
                out.push(notice(match text {
                    Some(t) => format!("you are away: {t}"),
                    None => "you are back".to_string(),
                }));
            }
            Command::Whois(nick) => {
                let w = hub.whois(nick).await?;
                let rooms: Vec<String> = w
                    .rooms
                    .iter()
                    .map(|r| {
                        format!(
                            "{}{}",
                            if r.op {
                                "@"
                            } else if r.voice {
                                "+"
                            } else {
                                ""
                            },
                            r.room
                        )
                    })
                    .collect();
                let rooms = if rooms.is_empty() { "no room".to_string() } else { rooms.join(", ") };
                let mut line = format!(
                    "{} is {}@{} via {}, in {rooms}; connected {} ago, idle {}",
                    w.nick,
                    w.ident.user,
                    w.ident.host,
                    w.transport,
                    ago(w.connected_at),
                    ago(w.last_active)
                );
                if !w.ident.realname.is_empty() {
                    line.push_str(&format!("; real name: {}", w.ident.realname));
                }
                if let Some(a) = &w.away {
                    line.push_str(&format!("; away: {a}"));
                }
                out.push(notice(line));
            }
            other => out.push(err(format!("not a room command: {other:?}"))),
        }
        Ok(())
    }

    /// Tells the member what a mode request refused (the room sees what it changed).
    fn mode_replies(&self, room: &str, done: ModeOutcome, out: &mut Vec<Arc<Shared>>) {
        let refused = !done.errors.is_empty();
        out.extend(done.errors.into_iter().map(|e| err(e.text)));
        if done.applied.is_empty() && !refused {
            out.push(notice(format!("nothing changed in {room}")));
        }
    }
}
