from queuelabs.cli.dev_commands import bench_command

bench_command(prog_name="python -m queuelabs.bench")
