# doc/local.mk - documentation: the man pages (installed) and doc/*.md
# (distributed). Included from the top-level Makefile.am.
EXTRA_DIST += doc/design.md doc/tracing.md

# One page per function group; tests/man.sh checks that every GCMAP_API
# function is named in the NAME section of exactly one page.
dist_man1_MANS = doc/man/gcmap-leakcheck.1
dist_man3_MANS = \
	doc/man/gcmap.3 \
	doc/man/gcmap_rcu.3 \
	doc/man/gcmap_create.3 \
	doc/man/gcmap_map.3 \
	doc/man/gcmap_maintain.3 \
	doc/man/gcmap_iter.3 \
	doc/man/gcmap_gc.3 \
	doc/man/gcmap_stats.3

# Every other name of a page's NAME line ("a, b, c \- summary") gets a
# one-line page ".so man3/PAGE.3", so that `man gcmap_get_u64` shows
# gcmap_map.3. MAN_LINKS_NAMES prints those names for the page $$page.
MAN_LINKS_NAMES = sed -n '/^\.SH NAME/{n;s/ *\\-.*//;s/,/ /g;p;q;}' "$(srcdir)/$$page"
install-data-hook:
	@for page in $(dist_man3_MANS); do \
		base=`basename "$$page" .3`; \
		for name in `$(MAN_LINKS_NAMES)`; do \
			test "$$name" = "$$base" && continue; \
			echo " man link $$name.3 -> $$base.3"; \
			echo ".so man3/$$base.3" >"$(DESTDIR)$(man3dir)/$$name.3" || exit 1; \
		done; \
	done
uninstall-hook:
	@for page in $(dist_man3_MANS); do \
		base=`basename "$$page" .3`; \
		for name in `$(MAN_LINKS_NAMES)`; do \
			test "$$name" = "$$base" || rm -f "$(DESTDIR)$(man3dir)/$$name.3"; \
		done; \
	done
