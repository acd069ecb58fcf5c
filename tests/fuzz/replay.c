/*
 * replay.c - runs the fuzz target (fuzz_map.c) without libFuzzer: with no
 * argument, the seed corpus ($top_srcdir/tests/fuzz/corpus) and its negative
 * controls, as make check does (TSan builds too); with FILE|DIR arguments,
 * those inputs only (a crash reproducer, say; FUZZ_TRACE=1 prints each step).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct files {
	char **v;
	size_t n, cap;
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "replay: %s: %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void add(struct files *f, const char *path)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		if (!f->v)
			die("out of memory", path);
	}
	f->v[f->n] = strdup(path);
	if (!f->v[f->n])
		die("out of memory", path);
	f->n++;
}

static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add @path, or every regular file of the directory @path, sorted. */
static void collect(struct files *f, const char *path)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;
	size_t first = f->n;

	if (stat(path, &st) != 0)
		die("cannot read", path);
	if (!S_ISDIR(st.st_mode)) {
		add(f, path);
		return;
	}
	dir = opendir(path);
	if (!dir)
		die("cannot open", path);
	while ((d = readdir(dir)) != NULL) {
		char full[4096];

		if (d->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, d->d_name);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			add(f, full);
	}
	closedir(dir);
	qsort(f->v + first, f->n - first, sizeof(*f->v), cmp_str);
}

static void run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp)
		die("cannot open", path);
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory", path);
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	if (ferror(fp))
		die("cannot read", path);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
}

/*
 * Negative control: run @path in a child with FUZZ_NEGATIVE=@mode (a known
 * bug turned back on, see fuzz_map.c); true if the target aborted. Each mode
 * must be caught by at least one corpus input.
 */
static int caught(const char *mode, const char *path)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork", path);
	if (pid == 0) {
		/* The child's reports are expected; keep the log short. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		setenv("FUZZ_NEGATIVE", mode, 1);
		run_file(path);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid", path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		die("child could not start", path);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "skip-moved", "no-barrier" };
	struct files f = { 0 };
	char corpus[4096];
	int failed = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			collect(&f, argv[i]);
		for (size_t i = 0; i < f.n; i++)
			run_file(f.v[i]);
		printf("replay: %zu input(s) passed\n", f.n);
		files_free(&f);
		return 0;
	}
	snprintf(corpus, sizeof(corpus), "%s/tests/fuzz/corpus",
		 getenv("top_srcdir") ? getenv("top_srcdir") : ".");
	collect(&f, corpus);
	if (f.n == 0) {
		fprintf(stderr, "replay: no inputs in %s\n", corpus);
		files_free(&f);
		return 1;
	}
	/* The negative controls first: this process has no threads yet, so
	 * fork() is safe (and TSan's die_after_fork stays quiet). */
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		size_t hits = 0;

		for (size_t i = 0; i < f.n; i++)
			hits += caught(modes[m], f.v[i]);
		printf("replay: negative control %s: caught by %zu of %zu input(s)\n", modes[m],
		       hits, f.n);
		if (hits == 0) {
			fprintf(stderr, "replay: FAIL: no corpus input catches %s\n", modes[m]);
			failed = 1;
		}
	}
	for (size_t i = 0; i < f.n; i++) {
		printf("replay: %s\n", f.v[i]);
		fflush(stdout);
		run_file(f.v[i]);
	}
	printf("replay: %zu corpus input(s) passed\n", f.n);
	files_free(&f);
	return failed;
}
