# e2e/: end-to-end scenarios (shell/Python/Node) against real binaries.
# Every e2e/t_*.sh runs with MZ_BINDIR pointing at this build's binaries;
# e2e/run.sh prints "N passed, N failed".
e2e: all
	MZ_BINDIR=$(BINDIR) e2e/run.sh $(T)
