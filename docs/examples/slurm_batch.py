"""Paint a folder of images on a Slurm cluster with napari-nst and dask-jobqueue.

    pip install "napari-nst[cluster]"
    python slurm_batch.py photos/ style.png painted/ --jobs 4 --partition gpu
    python slurm_batch.py photos/ style.png painted/ --dry-run   # print the job script

Each Slurm job is one Dask worker with one GPU (or the CPUs asked for). The
results, sidecars and resume work as with ``napari-nst-cli batch``: run the same
command again after a cancel or a time-out and only the missing images are done.
The input and output folders must be on a file system the nodes share.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", help="folder (or glob) of content images")
    p.add_argument("style", help="style image")
    p.add_argument("output", help="output folder (shared by the nodes)")
    p.add_argument("--jobs", type=int, default=2, help="Slurm jobs, one worker each")
    p.add_argument("--partition", default=None, help="Slurm partition (queue)")
    p.add_argument("--gpus", type=int, default=1, help="GPUs per job (0: CPU only)")
    p.add_argument("--cores", type=int, default=8, help="CPU cores per job")
    p.add_argument("--memory", default="32GB", help="memory per job")
    p.add_argument("--walltime", default="02:00:00")
    p.add_argument("--size", type=int, default=512, help="longer side of the results, px")
    p.add_argument("--dry-run", action="store_true", help="print the job script and stop")
    args = p.parse_args(argv)

    from dask_jobqueue import SLURMCluster
    from distributed import Client

    import napari_nst

    cluster = SLURMCluster(
        queue=args.partition,
        cores=1,  # one image at a time per worker: torch uses the job's cores itself
        processes=1,  # one worker per job: it owns the job's GPU and cores
        job_cpu=args.cores,
        memory=args.memory,
        walltime=args.walltime,
        job_extra_directives=[f"--gres=gpu:{args.gpus}"] if args.gpus else [],
    )
    if args.dry_run:
        print(cluster.job_script())
        cluster.close()
        return 0
    cluster.scale(jobs=args.jobs)
    jobs = napari_nst.jobs_from_inputs([args.inputs], args.style)
    params = napari_nst.StyleParams(size=args.size)
    failed = 0
    with Client(cluster) as client:
        for result in napari_nst.stylize_batch(
            jobs, params, output_dir=args.output, client=client
        ):
            failed += result.status == "failed"
            print(f"{result.status:8} {result.name} {result.reason}", flush=True)
    cluster.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
