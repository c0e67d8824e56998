"""`mf cache`: what the compile cache holds (mf.compile_cache), and clearing it.

    mf cache                          # where the store is, how many graphs, how many MB
    mf cache clear                    # remove every stored graph
    mf cache clear --older-than 30    # only those not written for 30 days

The store grows by one graph per new shape or code version and is never pruned by itself; clearing it is
always safe (a process that needed a removed graph compiles it again).
"""
import sys
import time


def register(cli):
    parser = cli.add_command("cache", "show or clear the store of compiled graphs ($MF_HOME/graphs)", run)
    parser.add_argument("action", nargs="?", choices=("info", "clear"), default="info")
    parser.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                        help="with clear: only graphs not written for this many days")


def run(args) -> int:
    from .. import compile_cache

    directory = compile_cache.store_directory()
    if args.action == "clear":
        if args.older_than is not None and args.older_than < 0:
            print("mf cache: --older-than takes a number of days >= 0", file=sys.stderr)
            return 2
        removed, freed = compile_cache.clear_store(args.older_than)
        print(f"removed {removed} compiled graph{'s' if removed != 1 else ''} ({freed / 1e6:.1f} MB) from {directory}")
        return 0
    if args.older_than is not None:
        print("mf cache: --older-than goes with `mf cache clear`", file=sys.stderr)
        return 2
    graphs = compile_cache.stored_graphs()
    print(f"compiled graphs: {directory}")
    if not graphs:
        print("  empty")
        return 0
    total = sum(size for _, size, _ in graphs)
    day = 86400
    print(f"  {len(graphs)} graph{'s' if len(graphs) != 1 else ''}, {total / 1e6:.1f} MB; newest written "
          f"{(time.time() - graphs[-1][2]) / day:.1f} days ago, oldest {(time.time() - graphs[0][2]) / day:.1f}")
    return 0
