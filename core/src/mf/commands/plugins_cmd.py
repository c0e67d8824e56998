"""`mf plugins`: installed distributions, what each registered, and broken plugins."""
import json


def register(cli):
    parser = cli.add_command("plugins", "list installed mf plugins and what they registered", run)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args) -> int:
    from ..plugins import plugin_set

    infos = plugin_set().infos
    if args.json:
        print(json.dumps([{"distribution": i.source.distribution, "version": i.version, "plugin": i.source.plugin,
                           "registered": i.registered, "error": i.error} for i in infos], indent=2))
        return 1 if any(i.error for i in infos) else 0
    for info in infos:
        if info.error:
            continue
        print(f"{info.source.distribution} {info.version}  ({info.source.plugin})")
        if not info.registered:
            print("    (registers nothing)")
        for kind, names in info.registered.items():
            print(f"    {kind}s: {', '.join(names)}")
    broken = [i for i in infos if i.error]
    if broken:
        print("\nbroken plugins (skipped):")
        for info in broken:
            print(f"  {info.source.distribution} {info.version}  ({info.source.plugin}): {info.error}")
        return 1
    return 0
