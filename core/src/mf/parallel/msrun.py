"""MindSpore's msrun with one change: only node 0 starts the scheduler.

msrun starts the scheduler on every node whose own addresses include master_addr. On a real
cluster that is node 0 alone; with several nodes on one machine (`mf launch --nnodes 2 --node_rank 1
--master_addr 127.0.0.1`, as tests and single-machine rehearsals do) every node would start one and
all but the first would fail to bind the port. node_rank already says which node is the master.

    python -m mf.parallel.msrun --worker_num=... --node_rank=K ...   (what `mf launch` runs)
"""
import sys


def node_rank(argv) -> int:
    for index, word in enumerate(argv):
        if word.startswith("--node_rank="):
            return int(word.split("=", 1)[1])
        if word == "--node_rank" and index + 1 < len(argv):
            return int(argv[index + 1])
    return -1


def main():
    from mindspore.parallel.cluster import run as msrun
    from mindspore.parallel.cluster.process_entity import _api

    if node_rank(sys.argv[1:]) > 0:
        _api._is_local_ip = lambda address: False  # this node is a worker node, whatever its addresses
    msrun.main()


if __name__ == "__main__":
    main()
