"""oldkeys.py - rows as omamori up to schema 25 could write them (keys in
the spelling typed, or as Dovecot gave the user name), and what schema
26's migration makes of them: shared by test-migrate.py (SQLite) and
store-pg.py (PostgreSQL).  A subscription's own trigger writes its
history row."""

ROWS = [
    "INSERT INTO subscriptions VALUES ('Jiro@Example.JP', 'inbound-virus', 'on', 100)",
    # two spellings of one key: the folded row is the one lookups found
    "INSERT INTO subscriptions VALUES ('saburo@example.jp', 'spam', 'paused', 50)",
    "INSERT INTO subscriptions VALUES ('Saburo@Example.JP.', 'spam', 'on', 200)",
    # two old spellings, none folded: the newer wins
    "INSERT INTO domain_settings VALUES ('Old.Example.JP', 'spam-threshold', '7', 10)",
    "INSERT INTO domain_settings VALUES ('OLD.example.jp', 'spam-threshold', '9', 20)",
    # a policy group's scope keeps its name, folds its domain
    "INSERT INTO policy_groups VALUES ('Grp.Example.JP', 'Sales', 1)",
    "INSERT INTO domain_settings VALUES ('<group Sales>@Grp.Example.JP', 'spam', 'on', 1)",
    "INSERT INTO list_entries VALUES ('Jiro@Example.JP', 'block', 'Bad@Spam.Example.', 1)",
    "INSERT INTO admins VALUES ('Example.JP', 'Boss@Example.JP', 'admin', '', 1)",
    "INSERT INTO brakes VALUES ('Jiro@Example.JP', 1, 1, 5, 5, 1, 1, 5, 5, 0, 1)",
]

# (label, SQL giving one text column, the rows it must give after v26)
EXPECT = [
    ("subscriptions folded; of two spellings the folded row stays",
     "SELECT mailbox || ' ' || feature || ' ' || state FROM subscriptions "
     "WHERE mailbox LIKE '%iro%' OR mailbox LIKE '%aburo%' ORDER BY 1",
     ["jiro@example.jp inbound-virus on", "saburo@example.jp spam paused"]),
    ("the history folded, no 'off' for the spelling dropped, and it ends in the state "
     "that stays",
     "SELECT mailbox || ' ' || state FROM subscription_history WHERE mailbox LIKE '%iro%' "
     "OR mailbox LIKE '%aburo%' ORDER BY mailbox, at, {order}",
     ["jiro@example.jp on", "saburo@example.jp paused", "saburo@example.jp on",
      "saburo@example.jp paused"]),
    ("of two old spellings the newer setting stays, folded",
     "SELECT domain || ' ' || value FROM domain_settings WHERE name = 'spam-threshold' "
     "AND domain LIKE 'old%'", ["old.example.jp 9"]),
    ("a group scope keeps its name, folds its domain",
     "SELECT domain FROM domain_settings WHERE domain LIKE '<group%'",
     ["<group Sales>@grp.example.jp"]),
    ("the group's domain folded",
     "SELECT domain || ' ' || name FROM policy_groups WHERE name = 'Sales'",
     ["grp.example.jp Sales"]),
    ("list scope and entry folded",
     "SELECT scope || ' ' || entry FROM list_entries WHERE scope LIKE 'jiro%'",
     ["jiro@example.jp bad@spam.example"]),
    ("the administrator folded",
     "SELECT domain || ' ' || address FROM admins WHERE address LIKE 'boss%'",
     ["example.jp boss@example.jp"]),
    ("the brake's login folded", "SELECT login FROM brakes", ["jiro@example.jp"]),
]
