"""`relay demo`: the whole relay on a loopback fediverse, in under a minute, with no account anywhere.

    cast.py       the sandbox's people (therapists, a moderator, a spammer, ...) and the demo relay.toml
    relaylog.py   the real `relay run` as a subprocess; its JSON log turned into facts per post
    scenario.py   the scripted steps, each with the outcome it expects, checked against reality
    progress.py   PURE: one readable line per post, the summary table, the --keep instructions
    cli.py        `add_arguments` / `run`: start everything, play, summarise, stop

The relay under test is never simulated: `relay demo` writes a relay.toml into a temporary folder
and starts `python -m relay --log-format json run -c FOLDER/relay.toml`, the code path of `relay run`.
Every expectation is checked against what the home instance shows and what the relay's database
holds; a missed one is printed and makes the exit code 1, so the demo doubles as a smoke test.
"""
