"""`mf plugins`: installed distributions, what each registered, and plugins that were skipped."""
import json

HEADINGS = {"broken": "broken plugins (skipped)", "incompatible": "incompatible plugins (skipped)",
            "conflict": "conflicting plugins (skipped)"}


def register(cli):
    parser = cli.add_command("plugins", "list installed mf plugins and what they registered", run)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args) -> int:
    from .. import PLUGIN_API
    from ..plugins import plugin_set

    infos = plugin_set().infos  # `mf` ran every command hook before this: broken ones are recorded
    bad = any(i.error or i.command_error for i in infos)
    if args.json:
        print(json.dumps([{"distribution": i.source.distribution, "version": i.version, "plugin": i.source.plugin,
                           "plugin_api": i.api, "registered": i.registered, "problem": i.problem,
                           "error": i.error, "command_error": i.command_error} for i in infos], indent=2))
        return 1 if bad else 0
    for info in infos:
        if info.error:
            continue
        api = f"  plugin API {info.api}" if info.api else ""
        print(f"{info.source.distribution} {info.version}  ({info.source.plugin}){api}")
        if not info.registered:
            print("    (registers nothing)")
        for kind, names in info.registered.items():
            print(f"    {kind}s: {', '.join(names)}")
        if info.command_error:
            print(f"    broken command hook (its commands are left out): {info.command_error}")
    for problem, heading in HEADINGS.items():
        skipped = [i for i in infos if i.problem == problem]
        if skipped:
            print(f"\n{heading}:")
            for info in skipped:
                print(f"  {info.source.distribution} {info.version}  ({info.source.plugin}): {info.error}")
    print(f"\nmf-core provides PLUGIN_API {PLUGIN_API}")
    return 1 if bad else 0
