fn main() {
    use l2tpns::ppp::server::ServerLink;
    use l2tpns::dataplane::session_table::{SessionEntry, SessionCounters};
    println!("ServerLink {}", std::mem::size_of::<ServerLink>());
    println!("SessionEntry {}", std::mem::size_of::<SessionEntry>());
    println!("SessionCounters {}", std::mem::size_of::<SessionCounters>());
    println!("ppp Fsm lcp? see");
}
