/*
 * haven-firstboot: the console wizard of a fresh appliance (tty1 and the
 * serial console), see docs/firstboot.md.
 *
 * The image check greps the serial console for "Haven appliance setup":
 * that string is printed before the screen is taken and is in the title
 * of every screen.  Keep it stable.
 *
 * Each screen is a function in the screens[] table returning FB_NEXT or
 * FB_BACK; what the operator typed stays in struct fb, so going back
 * shows it again.  A bad value keeps the screen up with the reason
 * under the fields.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <newt.h>

#include "log.h"
#include "util.h"
#include "fb.h"

#define FB_W		72	/* window width: fits 80x24 with the shadow */
#define FB_LABEL_W	22
#define FB_ENTRY_X	(FB_LABEL_W + 2)
#define FB_ENTRY_W	(FB_W - FB_ENTRY_X - 2)
#define FB_ERR_H	4
#define FB_NTP_TIMEOUT	3000	/* ms */
#define FB_MAX_COMP	32

static struct fb	 fbs;
static struct fb_run	*running;	/* for the signal handler */

/*
 * A screen: intro text, labelled fields, a message area and Back/Next.
 * Layout is top-down: each add puts the component on the next row.
 */
struct fb_form {
	newtComponent	 form;
	newtComponent	 comps[FB_MAX_COMP];
	int		 ncomps;
	newtComponent	 err;
	newtComponent	 back, next;
	int		 row, h;
};

static void
fb_form_add(struct fb_form *f, newtComponent co)
{
	if (f->ncomps == FB_MAX_COMP)
		fatalx("fb_form_add: too many components");
	f->comps[f->ncomps++] = co;
}

static void
fb_form_open(struct fb_form *f, const char *title, int h, const char *intro)
{
	char	*t;
	int	 w, rh;
	newtComponent tb;

	memset(f, 0, sizeof *f);
	f->h = h;
	t = xasprintf("%s: %s", FB_TITLE, title);
	newtCenteredWindow(FB_W, h, t);
	free(t);
	if (intro != NULL) {
		char *r = newtReflowText((char *)intro, FB_W - 2, 0, 0, &w, &rh);
		tb = newtTextbox(1, 0, FB_W - 2, rh, 0);
		newtTextboxSetText(tb, r);
		free(r);
		fb_form_add(f, tb);
		f->row = rh + 1;
	}
}

static newtComponent
fb_form_entry(struct fb_form *f, const char *label, const char *init,
    int flags)
{
	newtComponent	e;

	fb_form_add(f, newtLabel(1, f->row, label));
	e = newtEntry(FB_ENTRY_X, f->row, init != NULL ? init : "", FB_ENTRY_W,
	    NULL, flags | NEWT_FLAG_SCROLL);
	fb_form_add(f, e);
	f->row++;
	return e;
}

/* The message area and the buttons; then the form exists. */
static void
fb_form_finish(struct fb_form *f, const char *back, const char *next)
{
	f->err = newtTextbox(1, f->h - FB_ERR_H - 2, FB_W - 2, FB_ERR_H,
	    NEWT_FLAG_WRAP);
	fb_form_add(f, f->err);
	if (next != NULL) {
		f->next = newtCompactButton(FB_W - 6 - (int)strlen(next),
		    f->h - 1, next);
		fb_form_add(f, f->next);
	}
	if (back != NULL) {
		f->back = newtCompactButton(2, f->h - 1, back);
		fb_form_add(f, f->back);
	}
	f->form = newtForm(NULL, NULL, 0);
	for (int i = 0; i < f->ncomps; i++)
		newtFormAddComponent(f->form, f->comps[i]);
	/* Another console may finish setup while this one waits. */
	newtFormSetTimer(f->form, 1000);
}

static void
fb_form_error(struct fb_form *f, const char *msg, newtComponent focus)
{
	char	*r;
	int	 w, h;

	r = newtReflowText((char *)msg, FB_W - 2, 0, 0, &w, &h);
	newtTextboxSetText(f->err, r);
	free(r);
	if (focus != NULL)
		newtFormSetCurrent(f->form, focus);
}

static void
fb_form_close(struct fb_form *f)
{
	newtFormDestroy(f->form);
	newtPopWindow();
	f->form = NULL;
}

static void __attribute__((noreturn))
fb_exit_other_done(void)
{
	newtFinished();
	printf("%s: setup was completed on the other console.\n", FB_TITLE);
	exit(0);
}

/* Runs the form: FB_NEXT (Next button, F12), FB_BACK, or the component
 * that made it exit (another button). */
static newtComponent
fb_form_run(struct fb_form *f, int *step)
{
	struct newtExitStruct	es;

	for (;;) {
		newtFormRun(f->form, &es);
		if (es.reason == NEWT_EXIT_TIMER) {
			if (fbs.lockfd == -1 && fb_done_exists(&fbs))
				fb_exit_other_done();
			continue;
		}
		if (es.reason == NEWT_EXIT_HOTKEY && es.u.key == NEWT_KEY_F12) {
			*step = FB_NEXT;
			return f->next;
		}
		if (es.reason != NEWT_EXIT_COMPONENT)
			continue;
		if (es.u.co == f->next)
			*step = FB_NEXT;
		else if (es.u.co == f->back)
			*step = FB_BACK;
		else
			*step = 0;
		return es.u.co;
	}
}

static void
fb_set(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* A short message while something slow runs. */
static void
fb_busy(const char *msg)
{
	char	*t = xasprintf("%s: please wait", FB_TITLE);

	newtCenteredWindow(FB_W - 10, 3, t);
	free(t);
	newtComponent f = newtForm(NULL, NULL, 0);
	newtFormAddComponent(f, newtLabel(1, 1, msg));
	newtDrawForm(f);
	newtRefresh();
	newtFormDestroy(f);
}

static void
fb_busy_done(void)
{
	newtPopWindow();
	/* Keys pressed meanwhile must not act on the next screen. */
	newtClearKeyBuffer();
}

/* The screens. */

static const char fb_licence_builtin[] =
    "Haven disaster-recovery appliance\n\n"
    "Haven is open-source software. Its licence text is in "
    "/usr/share/haven/LICENSE on this appliance and in the source "
    "repository. It is provided \"as is\", without warranty of any "
    "kind; the authors are not liable for any damages arising from its "
    "use.\n\n"
    "The components of the appliance (Debian, MariaDB, OpenSSL, ...) "
    "are under their own licences, listed in /usr/share/doc.\n\n"
    "Choose Accept to set up the appliance.";

static int
fb_lock_or_wait(void)
{
	char	*holder = NULL, *cause = NULL, *t, *msg;
	int	 r;
	newtComponent form, label;

	for (;;) {
		r = fb_lock(&fbs, &holder, &cause);
		if (r == -1) {
			newtWinMessage(FB_TITLE ": error", "OK", "%s", cause);
			free(cause);
			return -1;
		}
		if (r == 0)
			return 0;
		t = xasprintf("%s: in use", FB_TITLE);
		msg = xasprintf("Setup is running on the other console (%s).\n"
		    "Finish it there; this console waits and closes when it "
		    "is done.", holder);
		newtCenteredWindow(FB_W - 6, 5, t);
		form = newtForm(NULL, NULL, 0);
		label = newtTextboxReflowed(1, 1, msg, FB_W - 10, 0, 0, 0);
		newtFormAddComponent(form, label);
		newtDrawForm(form);
		newtRefresh();
		free(t);
		free(msg);
		free(holder);
		holder = NULL;
		/* Poll: the lock holder's exit wakes nobody. */
		for (;;) {
			sleep(1);
			if (fb_done_exists(&fbs))
				fb_exit_other_done();
			r = fb_lock(&fbs, &holder, &cause);
			free(holder);
			holder = NULL;
			free(cause);
			cause = NULL;
			if (r == 0)
				break;
		}
		newtFormDestroy(form);
		newtPopWindow();
		/* Keys pressed while waiting must not skip screens. */
		newtClearKeyBuffer();
		return 0;
	}
}

static int
fb_screen_licence(void)
{
	struct fb_form	 f;
	newtComponent	 tb, co;
	char		*path, *text;
	int		 step;

	path = fb_path(&fbs, "/usr/share/haven/LICENSE");
	if ((text = read_file(path, NULL, NULL)) == NULL)
		text = xstrdup(fb_licence_builtin);
	free(path);
	fb_form_open(&f, "licence", 19, NULL);
	tb = newtTextbox(1, 0, FB_W - 3, 12, NEWT_FLAG_WRAP | NEWT_FLAG_SCROLL);
	newtTextboxSetText(tb, text);
	free(text);
	fb_form_add(&f, tb);
	fb_form_finish(&f, "Decline", "Accept");
	for (;;) {
		co = fb_form_run(&f, &step);
		if (co == f.next) {
			fb_form_close(&f);
			if (fb_lock_or_wait() == -1)
				return fb_screen_licence();
			/* Setup may have finished elsewhere meanwhile. */
			if (fb_done_exists(&fbs)) {
				newtFinished();
				printf("%s: already done.\n", FB_TITLE);
				exit(0);
			}
			return FB_NEXT;
		}
		fb_form_error(&f, "You declined the licence: the appliance "
		    "cannot be set up without accepting it. Choose Accept to "
		    "continue, or power the appliance off.", f.next);
	}
}

/*
 * A screen with one entry: the value goes into *field and accept()
 * decides (0) or names what is wrong (-1 and a cause shown on the form).
 */
static int
fb_screen_entry(const char *title, int n, const char *help,
    const char *label, char **field, int (*accept)(char **))
{
	struct fb_form	 f;
	newtComponent	 e;
	char		*cause = NULL;
	int		 step;

	fb_form_open(&f, title, n, help);
	e = fb_form_entry(&f, label, *field, 0);
	fb_form_finish(&f, "Back", "Next");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		fb_set(field, newtEntryGetValue(e));
		if (accept(&cause) == 0)
			break;
		fb_form_error(&f, cause, e);
	}
	free(cause);
	fb_form_close(&f);
	return step;
}

static int
fb_accept_hostname(char **cause)
{
	if (fb_check_hostname(fbs.hostname, cause) == -1)
		return -1;
	return fb_apply_hostname(&fbs, cause);
}

static int
fb_screen_hostname(void)
{
	return fb_screen_entry("host name", 12, "The appliance's host name "
	    "(RFC 1123: letters, digits and hyphens, dot-separated). Agents "
	    "and the certificates use it.", "Host name:", &fbs.hostname,
	    fb_accept_hostname);
}

static newtComponent
fb_nic_listbox(struct fb_form *f, char **nics, const char *cur, int addrs)
{
	newtComponent	 lb;
	char		*ip, *t;
	int		 n = 0;

	fb_form_add(f, newtLabel(1, f->row, "Interface:"));
	/* With its border: three NICs show, more scroll. */
	lb = newtListbox(FB_ENTRY_X, f->row, 5, NEWT_FLAG_SCROLL |
	    NEWT_FLAG_BORDER);
	newtListboxSetWidth(lb, FB_ENTRY_W);
	for (char **p = nics; *p != NULL; p++, n++) {
		ip = addrs ? fb_nic_ipv4(*p) : NULL;
		t = xasprintf("%-16s %s", *p, ip != NULL ? ip :
		    addrs ? "(no IPv4 address)" : "");
		newtListboxAppendEntry(lb, t, (void *)(intptr_t)(n + 1));
		free(t);
		free(ip);
		if (cur != NULL && strcmp(cur, *p) == 0)
			newtListboxSetCurrent(lb, n);
	}
	fb_form_add(f, lb);
	f->row += 5;
	return lb;
}

static const char *
fb_nic_current(newtComponent lb, char **nics)
{
	intptr_t	i = (intptr_t)newtListboxGetCurrent(lb);

	return i > 0 ? nics[i - 1] : NULL;
}

static int
fb_screen_network(void)
{
	struct fb_form	 f;
	newtComponent	 lb, rdhcp, rstatic, eaddr, egw, edns;
	char		**nics, *cause = NULL, *dns = NULL, *msg;
	const char	 *nic;
	int		  step;

	nics = fb_nics();
	fb_form_open(&f, "network", 19, "The management network: DHCP, or "
	    "a static address with its prefix length, the gateway and DNS "
	    "servers.");
	lb = fb_nic_listbox(&f, nics, fbs.ifname, 1);
	fb_form_add(&f, newtLabel(1, f.row, "Addressing:"));
	rdhcp = newtRadiobutton(FB_ENTRY_X, f.row, "DHCP", fbs.dhcp, NULL);
	rstatic = newtRadiobutton(FB_ENTRY_X + 10, f.row, "Static", !fbs.dhcp,
	    rdhcp);
	fb_form_add(&f, rdhcp);
	fb_form_add(&f, rstatic);
	f.row++;
	eaddr = fb_form_entry(&f, "Address/prefix:", fbs.cidr, 0);
	egw = fb_form_entry(&f, "Gateway:", fbs.gateway, 0);
	edns = fb_form_entry(&f, "DNS servers:", fbs.dns, 0);
	fb_form_finish(&f, "Back", "Next");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		if ((nic = fb_nic_current(lb, nics)) == NULL) {
			fb_form_error(&f, "This appliance has no network "
			    "interface: add a NIC to the virtual machine and "
			    "restart it.", NULL);
			continue;
		}
		fb_set(&fbs.ifname, nic);
		fbs.dhcp = newtRadioGetCurrent(rdhcp) == rdhcp;
		fb_set(&fbs.cidr, newtEntryGetValue(eaddr));
		fb_set(&fbs.gateway, newtEntryGetValue(egw));
		fb_set(&fbs.dns, newtEntryGetValue(edns));
		if (!fbs.dhcp) {
			if (fb_check_cidr(fbs.cidr, &fbs.addr, &fbs.prefix,
			    &cause) == -1) {
				fb_form_error(&f, cause, eaddr);
				continue;
			}
			uint32_t gw;
			if (fb_check_gateway(fbs.gateway, fbs.addr,
			    fbs.prefix, &gw, &cause) == -1) {
				fb_form_error(&f, cause, egw);
				continue;
			}
			if (fb_check_dns(fbs.dns, &dns, &cause) == -1) {
				fb_form_error(&f, cause, edns);
				continue;
			}
			fb_set(&fbs.dns, dns);
			free(dns);
			dns = NULL;
		}
		if (fbs.live)
			fb_busy("Applying the network settings...");
		int rc = fb_apply_network(&fbs, &cause);
		if (fbs.live)
			fb_busy_done();
		if (rc == 0)
			break;
		msg = xasprintf("%s", cause);
		fb_form_error(&f, msg, NULL);
		free(msg);
	}
	free(cause);
	fb_form_close(&f);
	fb_strv_free(nics);
	return step;
}

static int
fb_screen_password(void)
{
	struct fb_form	 f;
	newtComponent	 e1, e2;
	char		*cause = NULL;
	int		 step;

	fb_form_open(&f, "admin password", 13, "The password of the admin "
	    "account of the web UI (port 44315) and of root on the console "
	    "(SSH stays key-only): at least 8 characters with upper- and "
	    "lower-case letters, a digit and a symbol.");
	e1 = fb_form_entry(&f, "Password:", fbs.admin_pw, NEWT_FLAG_PASSWORD);
	e2 = fb_form_entry(&f, "Password again:", fbs.admin_pw,
	    NEWT_FLAG_PASSWORD);
	fb_form_finish(&f, "Back", "Next");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		if (fb_check_password(newtEntryGetValue(e1),
		    newtEntryGetValue(e2), &cause) == 0) {
			fb_set(&fbs.admin_pw, newtEntryGetValue(e1));
			break;
		}
		fb_form_error(&f, cause, e1);
	}
	free(cause);
	fb_form_close(&f);
	return step;
}

/* The time check: 0 with fbs.skew set, or -1 with the reason. */
static int
fb_time_check(const char *source, char **cause)
{
	char	*host = NULL, dur[64], *where;
	double	 off;
	int	 port, rc = -1;

	fbs.skew = 0;
	if (fb_parse_time_source(source, &host, &port, cause) == -1)
		return -1;
	where = port == 123 ? xstrdup(host) : xasprintf("%s port %d", host,
	    port);
	if (sntp_query(host, port, FB_NTP_TIMEOUT, &off, cause) == -1)
		goto out;
	fbs.skew = off;
	if (fabs(off) > FB_SKEW_MAX) {
		sntp_fmt_duration(off, dur, sizeof dur);
		set_cause(cause, "The clock is %s %s %s (skew %+.0f s; the "
		    "limit is 15 min): setup is blocked because certificates "
		    "and recovery points need the right time. Fix the clock "
		    "(the ESXi host's NTP and VMware Tools time sync, or date "
		    "-s in a shell), then check again.", dur,
		    off < 0 ? "ahead of" : "behind", where, -off);
		goto out;
	}
	rc = 0;
out:
	free(where);
	free(host);
	return rc;
}

static int
fb_screen_time(void)
{
	struct fb_form	 f;
	newtComponent	 e;
	char		*cause = NULL, *msg;
	int		 step, rc;

	fb_form_open(&f, "time", 13, "The clock is checked against an NTP "
	    "server (chrony's first source by default). More than 15 minutes "
	    "of skew blocks setup. Type host or host:port.");
	e = fb_form_entry(&f, "Time source:", fbs.ntp, 0);
	fb_form_finish(&f, "Back", "Check");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		fb_set(&fbs.ntp, newtEntryGetValue(e));
		msg = xasprintf("Asking %s for the time...", fbs.ntp);
		fb_form_error(&f, msg, NULL);
		free(msg);
		newtDrawForm(f.form);
		newtRefresh();
		rc = fb_time_check(fbs.ntp, &cause) == 0 &&
		    fb_apply_time_source(&fbs, &cause) == 0;
		newtClearKeyBuffer();
		if (rc)
			break;
		msg = fabs(fbs.skew) > FB_SKEW_MAX ? xstrdup(cause) :
		    xasprintf("%s Press Check to try again, or type another "
		    "time source.", cause);
		fb_form_error(&f, msg, e);
		free(msg);
	}
	free(cause);
	fb_form_close(&f);
	return step;
}

static int
fb_db_password_ok(const char *what, const char *v, char **cause)
{
	if (fb_check_ini_value(what, v, 1, cause) == -1)
		return -1;
	if (strlen(v) < 8) {
		set_cause(cause, "The %s has %zu characters: it needs at least "
		    "8, or choose Generate.", what, strlen(v));
		return -1;
	}
	return 0;
}

static int
fb_screen_database(void)
{
	struct fb_form	 f;
	newtComponent	 rgen, rown, eroot, euser;
	char		*cause = NULL, pw[25];
	int		 step;

	fb_form_open(&f, "database", 15, "Generate: Haven's database account "
	    "gets a random password and setup reaches MariaDB's root by the "
	    "unix socket. Enter: type both passwords (an empty root password "
	    "means the unix socket).");
	fb_form_add(&f, newtLabel(1, f.row, "Passwords:"));
	rgen = newtRadiobutton(FB_ENTRY_X, f.row, "Generate", fbs.db_generated,
	    NULL);
	rown = newtRadiobutton(FB_ENTRY_X + 14, f.row, "Enter",
	    !fbs.db_generated, rgen);
	fb_form_add(&f, rgen);
	fb_form_add(&f, rown);
	f.row++;
	eroot = fb_form_entry(&f, "MariaDB root:", fbs.db_generated ? "" :
	    fbs.db_root_pw, NEWT_FLAG_PASSWORD);
	euser = fb_form_entry(&f, "Haven DB user:", fbs.db_generated ? "" :
	    fbs.db_user_pw, NEWT_FLAG_PASSWORD);
	fb_form_finish(&f, "Back", "Next");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		fbs.db_generated = newtRadioGetCurrent(rgen) == rgen;
		if (fbs.db_generated) {
			/* The appliance's MariaDB authenticates root by the
			 * unix socket (Debian's default): no password. */
			fb_set(&fbs.db_root_pw, "");
			fb_random_password(pw, sizeof pw);
			fb_set(&fbs.db_user_pw, pw);
			explicit_bzero(pw, sizeof pw);
			break;
		}
		if (*newtEntryGetValue(eroot) != '\0' &&
		    fb_db_password_ok("MariaDB root password",
		    newtEntryGetValue(eroot), &cause) == -1) {
			fb_form_error(&f, cause, eroot);
			continue;
		}
		if (fb_db_password_ok("Haven database password",
		    newtEntryGetValue(euser), &cause) == -1) {
			fb_form_error(&f, cause, euser);
			continue;
		}
		fb_set(&fbs.db_root_pw, newtEntryGetValue(eroot));
		fb_set(&fbs.db_user_pw, newtEntryGetValue(euser));
		break;
	}
	free(cause);
	fb_form_close(&f);
	return step;
}

static int
fb_accept_vault(char **cause)
{
	if (fb_check_key_file(fbs.vault_key, cause) == -1)
		return -1;
	return fb_check_ini_value("key file path", fbs.vault_key, 0, cause);
}

static int
fb_screen_vault(void)
{
	return fb_screen_entry("vault registration", 13, "The path of the "
	    "vault registration key file (downloaded from the recovery site's "
	    "vault, valid 5 days). Optional: leave empty to register later.",
	    "Key file:", &fbs.vault_key, fb_accept_vault);
}

static int
fb_screen_data(void)
{
	struct fb_form	 f;
	newtComponent	 lb, eport;
	char		**nics, *cause = NULL, *ip, *msg, portbuf[16];
	const char	 *nic;
	int		  step, port;

	nics = fb_nics();
	fb_form_open(&f, "data network", 17, "Agents send replication data "
	    "to this NIC's address on the data port (9443 by default; 22, "
	    "443, 3306 and 44315 are the appliance's own and are refused).");
	lb = fb_nic_listbox(&f, nics, fbs.data_if != NULL ? fbs.data_if :
	    fbs.ifname, 1);
	snprintf(portbuf, sizeof portbuf, "%d", fbs.data_port);
	eport = fb_form_entry(&f, "Data port:", portbuf, 0);
	fb_form_finish(&f, "Back", "Next");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		if ((nic = fb_nic_current(lb, nics)) == NULL) {
			fb_form_error(&f, "This appliance has no network "
			    "interface: add a NIC to the virtual machine and "
			    "restart it.", NULL);
			continue;
		}
		/* A static address chosen here may not be live yet (tests,
		 * or ifup still running). */
		if (!fbs.dhcp && fbs.ifname != NULL &&
		    strcmp(nic, fbs.ifname) == 0)
			ip = xstrndup(fbs.cidr, strcspn(fbs.cidr, "/"));
		else
			ip = fb_nic_ipv4(nic);
		if (ip == NULL) {
			msg = xasprintf("%s has no IPv4 address, so agents "
			    "could not reach it: choose the NIC on the data "
			    "network, or fix its DHCP.", nic);
			fb_form_error(&f, msg, lb);
			free(msg);
			continue;
		}
		if (fb_check_data_port(newtEntryGetValue(eport), &port,
		    &cause) == -1) {
			fb_form_error(&f, cause, eport);
			free(ip);
			continue;
		}
		fb_set(&fbs.data_if, nic);
		free(fbs.data_ip);
		fbs.data_ip = ip;
		fbs.data_port = port;
		break;
	}
	free(cause);
	fb_form_close(&f);
	fb_strv_free(nics);
	return step;
}

static int
fb_screen_proxy(void)
{
	struct fb_form	 f;
	newtComponent	 rnone, rcustom, eurl, eport, euser, epw;
	char		*cause = NULL, portbuf[16];
	int		 step, port;

	fb_form_open(&f, "proxy", 17, "An HTTP proxy for the appliance's "
	    "outbound connections (the vault, updates). The user name and "
	    "password are optional.");
	fb_form_add(&f, newtLabel(1, f.row, "Proxy:"));
	rnone = newtRadiobutton(FB_ENTRY_X, f.row, "None", !fbs.proxy, NULL);
	rcustom = newtRadiobutton(FB_ENTRY_X + 10, f.row, "Custom", fbs.proxy,
	    rnone);
	fb_form_add(&f, rnone);
	fb_form_add(&f, rcustom);
	f.row++;
	snprintf(portbuf, sizeof portbuf, "%d", fbs.proxy_port);
	eurl = fb_form_entry(&f, "URL:", fbs.proxy_url, 0);
	eport = fb_form_entry(&f, "Port:", portbuf, 0);
	euser = fb_form_entry(&f, "User (optional):", fbs.proxy_user, 0);
	epw = fb_form_entry(&f, "Password:", fbs.proxy_pw, NEWT_FLAG_PASSWORD);
	fb_form_finish(&f, "Back", "Next");
	for (;;) {
		fb_form_run(&f, &step);
		if (step == FB_BACK)
			break;
		fbs.proxy = newtRadioGetCurrent(rnone) == rcustom;
		fb_set(&fbs.proxy_url, newtEntryGetValue(eurl));
		fb_set(&fbs.proxy_user, newtEntryGetValue(euser));
		fb_set(&fbs.proxy_pw, newtEntryGetValue(epw));
		if (!fbs.proxy)
			break;
		if (fb_check_proxy_url(fbs.proxy_url, &cause) == -1) {
			fb_form_error(&f, cause, eurl);
			continue;
		}
		if (fb_check_port("proxy port", newtEntryGetValue(eport), &port,
		    &cause) == -1) {
			fb_form_error(&f, cause, eport);
			continue;
		}
		fbs.proxy_port = port;
		if (strpbrk(fbs.proxy_user, " \t") != NULL) {
			fb_form_error(&f, "The proxy user name contains a "
			    "space: type it without spaces.", euser);
			continue;
		}
		if (fb_check_ini_value("proxy user name", fbs.proxy_user, 0,
		    &cause) == -1) {
			fb_form_error(&f, cause, euser);
			continue;
		}
		if (fb_check_ini_value("proxy password", fbs.proxy_pw, 0,
		    &cause) == -1) {
			fb_form_error(&f, cause, epw);
			continue;
		}
		if (*fbs.proxy_user != '\0' && *fbs.proxy_pw == '\0') {
			fb_form_error(&f, "A proxy user needs its password: "
			    "type it, or clear the user name for a proxy "
			    "without authentication.", epw);
			continue;
		}
		if (*fbs.proxy_user == '\0' && *fbs.proxy_pw != '\0') {
			fb_form_error(&f, "A proxy password needs its user "
			    "name: type it, or clear the password.", euser);
			continue;
		}
		break;
	}
	free(cause);
	fb_form_close(&f);
	return step;
}

static int
fb_screen_summary(void)
{
	struct fb_form	 f;
	newtComponent	 tb;
	char		*text, *net, *proxy, dur[64];
	int		 step;

	net = fbs.dhcp ? xasprintf("%s, DHCP", fbs.ifname) :
	    xasprintf("%s, %s, gateway %s, DNS %s", fbs.ifname, fbs.cidr,
	    fbs.gateway, fbs.dns);
	proxy = !fbs.proxy ? xstrdup("none") : *fbs.proxy_user != '\0' ?
	    xasprintf("%s:%d as %s", fbs.proxy_url, fbs.proxy_port,
	    fbs.proxy_user) : xasprintf("%s:%d", fbs.proxy_url, fbs.proxy_port);
	sntp_fmt_duration(fbs.skew, dur, sizeof dur);
	text = xasprintf(
	    "Host name:     %s\n"
	    "Network:       %s\n"
	    "Admin account: admin (password set)\n"
	    "Console login: root with the admin password; SSH: keys only\n"
	    "Clock:         within %s of %s\n"
	    "Database:      %s\n"
	    "Vault key:     %s\n"
	    "Data:          %s %s, port %d\n"
	    "Proxy:         %s\n\n"
	    "Run setup applies these settings; it takes a few minutes.",
	    fbs.hostname, net, dur, fbs.ntp,
	    fbs.db_generated ? "generated password, root by unix socket" :
	    *fbs.db_root_pw == '\0' ? "entered password, root by unix socket" :
	    "entered passwords",
	    *fbs.vault_key != '\0' ? fbs.vault_key : "none (register later)",
	    fbs.data_if, fbs.data_ip, fbs.data_port, proxy);
	fb_form_open(&f, "summary", 18, NULL);
	tb = newtTextbox(1, 0, FB_W - 3, 12, NEWT_FLAG_WRAP | NEWT_FLAG_SCROLL);
	newtTextboxSetText(tb, text);
	fb_form_add(&f, tb);
	fb_form_finish(&f, "Back", "Run setup");
	newtFormSetCurrent(f.form, f.next);
	fb_form_run(&f, &step);
	fb_form_close(&f);
	free(text);
	free(net);
	free(proxy);
	return step == FB_NEXT ? FB_NEXT : FB_BACK;
}

static char *
fb_tail_text(const struct fb_run *r)
{
	struct fbuf	b;

	fbuf_init(&b);
	for (int i = 0; i < r->ntail; i++) {
		fbuf_add(&b, r->tail[i], strlen(r->tail[i]));
		fbuf_add(&b, "\n", 1);
	}
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

static int
fb_screen_done(const struct fb_run *r)
{
	struct fb_form	 f;
	char		*text;
	int		 step;

	text = xasprintf("Haven is set up.\n\n"
	    "Admin URL:     %s\n"
	    "Passphrase:    %s\n"
	    "Console login: root with the admin password; SSH: keys only\n\n"
	    "Sign in to the web UI as admin with the password you chose. "
	    "Write the passphrase down: agents and process servers need it "
	    "to enroll (havenctl passphrase show prints it again). For SSH, "
	    "put a public key in /root/.ssh/authorized_keys.", r->admin_url,
	    r->passphrase);
	fb_form_open(&f, "done", 18, NULL);
	newtComponent tb = newtTextbox(1, 0, FB_W - 2, 12, NEWT_FLAG_WRAP);
	newtTextboxSetText(tb, text);
	fb_form_add(&f, tb);
	fb_form_finish(&f, NULL, "Finish");
	fb_form_run(&f, &step);
	fb_form_close(&f);
	explicit_bzero(text, strlen(text));
	free(text);
	return FB_NEXT;
}

/* Runs haven-setup with a progress scale; FB_NEXT when it succeeded. */
static int
fb_screen_run(void)
{
	struct fb_run	 r;
	struct fb_form	 f;
	newtComponent	 label, scale, tb;
	struct pollfd	 pfd;
	char		*cause = NULL, *text, *t, *msg;
	int		 step, end = 0, rc, ran = 0;

	fb_form_open(&f, "running setup", 16, NULL);
	label = newtLabel(1, 1, "Starting haven-setup...");
	newtLabelSetText(label, "Starting haven-setup...");
	scale = newtScale(1, 3, FB_W - 2, 100);
	tb = newtTextbox(1, 5, FB_W - 2, 9, NEWT_FLAG_WRAP);
	fb_form_add(&f, label);
	fb_form_add(&f, scale);
	fb_form_add(&f, tb);
	f.form = newtForm(NULL, NULL, 0);
	for (int i = 0; i < f.ncomps; i++)
		newtFormAddComponent(f.form, f.comps[i]);
	newtDrawForm(f.form);
	newtRefresh();

	/* Before haven-setup: if it fails, root can sign in on another
	 * console (Alt-F2) and read the logs. */
	memset(&r, 0, sizeof r);
	r.fd = -1;
	r.pid = -1;
	newtLabelSetText(label, "Setting the console password of root...");
	newtRefresh();
	if (fb_apply_root_password(&fbs, &cause) == -1)
		goto failed;
	newtLabelSetText(label, "Starting haven-setup...");
	newtRefresh();
	running = &r;
	ran = 1;
	if (fb_run_start(&fbs, &r, &cause) == -1)
		goto failed;
	while (!end) {
		pfd.fd = r.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((rc = fb_run_read(&r)) != 0)
			end = 1;
		if (r.nsteps > 0) {
			t = xasprintf("Step %d of %d: %.*s", r.step, r.nsteps,
			    FB_W - 20, r.step_text);
			newtLabelSetText(label, t);
			free(t);
			newtScaleSet(scale, (unsigned long long)(100 * r.step /
			    r.nsteps));
		}
		text = fb_tail_text(&r);
		newtTextboxSetText(tb, text);
		free(text);
		newtDrawForm(f.form);
		newtRefresh();
	}
	rc = fb_run_finish(&r, &cause);
	/* The secrets' files go at once. */
	fb_run_cleanup(&r);
	running = NULL;
	/* An Enter pressed while it ran must not close the last screen
	 * before the passphrase is read. */
	newtClearKeyBuffer();
	if (rc == -1)
		goto failed;
	fb_form_close(&f);
	if (fb_write_done(&fbs, &cause) == -1) {
		newtWinMessage(FB_TITLE ": warning", "OK", "Setup succeeded but "
		    "%s: the wizard will show again at the next boot.", cause);
		free(cause);
	}
	fb_screen_done(&r);
	fbs.admin_url = xstrdup(r.admin_url);
	fb_run_free(&r);
	return FB_NEXT;

failed:
	running = NULL;
	fb_form_close(&f);
	text = fb_tail_text(&r);
	msg = !ran ? xasprintf("%s\n\nhaven-setup did not run.", cause) :
	    xasprintf("%s\n\nLast lines of haven-setup:\n%s", cause,
	    *text != '\0' ? text : "(none)\n");
	fb_run_free(&r);
	free(text);
	free(cause);
	fb_form_open(&f, "setup failed", 19, NULL);
	tb = newtTextbox(1, 0, FB_W - 3, 12, NEWT_FLAG_WRAP | NEWT_FLAG_SCROLL);
	newtTextboxSetText(tb, msg);
	free(msg);
	fb_form_add(&f, tb);
	fb_form_finish(&f, "Back", "Retry");
	fb_form_error(&f, "Setup stopped. Go Back to change the settings "
	    "(the database passwords, the data port, ...), or Retry.", NULL);
	fb_form_run(&f, &step);
	fb_form_close(&f);
	return step == FB_NEXT ? fb_screen_run() : FB_BACK;
}

static const struct {
	const char	*name;
	int		(*fn)(void);
} screens[] = {
	{ "licence",	fb_screen_licence },
	{ "hostname",	fb_screen_hostname },
	{ "network",	fb_screen_network },
	{ "password",	fb_screen_password },
	{ "time",	fb_screen_time },
	{ "database",	fb_screen_database },
	{ "vault",	fb_screen_vault },
	{ "data",	fb_screen_data },
	{ "proxy",	fb_screen_proxy },
	{ "summary",	fb_screen_summary },
	{ "run",	fb_screen_run },
};

static void
fb_signal(int sig)
{
	/* Only async-signal-safe calls: the secrets' files go. */
	if (running != NULL) {
		for (int i = 0; i < running->nfiles; i++)
			unlink(running->files[i]);
		if (running->dir != NULL)
			rmdir(running->dir);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
fb_init(void)
{
	const char	*root = getenv("HAVEN_ROOT");
	char		*t;

	memset(&fbs, 0, sizeof fbs);
	if (root == NULL || *root == '\0')
		root = "/";
	t = xstrdup(root);
	while (strlen(t) > 1 && t[strlen(t) - 1] == '/')
		t[strlen(t) - 1] = '\0';
	fbs.live = strcmp(t, "/") == 0;
	if (fbs.live)
		t[0] = '\0';	/* paths are root + "/etc/..." */
	fbs.root = t;
	fbs.lockfd = -1;
	fbs.tty = ttyname(STDIN_FILENO);
	if (fbs.tty == NULL)
		fbs.tty = "console";
	fbs.tty = xstrdup(fbs.tty);
	fbs.hostname = fb_current_hostname(&fbs);
	fbs.dhcp = 1;
	fbs.cidr = xstrdup("");
	fbs.gateway = xstrdup("");
	fbs.dns = xstrdup("");
	fbs.admin_pw = xstrdup("");
	fbs.ntp = fb_default_time_source(&fbs);
	fbs.ntp_default = xstrdup(fbs.ntp);
	fbs.db_generated = 1;
	fbs.vault_key = xstrdup("");
	fbs.data_port = FB_DATA_PORT_DEFAULT;
	fbs.proxy_url = xstrdup("");
	fbs.proxy_port = 3128;
	fbs.proxy_user = xstrdup("");
	fbs.proxy_pw = xstrdup("");
}

static int
fb_time_check_cli(const char *source)
{
	char	*cause = NULL, dur[64];

	if (source == NULL)
		source = fbs.ntp;
	if (fb_time_check(source, &cause) == -1) {
		fprintf(stderr, "haven-firstboot: %s\n", cause);
		free(cause);
		return 1;
	}
	sntp_fmt_duration(fbs.skew, dur, sizeof dur);
	printf("offset %+.3f s (clock within %s of %s)\n", fbs.skew, dur,
	    source);
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: haven-firstboot [--time-check [HOST[:PORT]]]"
	    "\nRuns the appliance's console setup wizard; see "
	    "docs/firstboot.md.\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	size_t	i;
	int	step;
	char	*done;

	fb_init();
	if (argc > 1) {
		if (strcmp(argv[1], "--time-check") == 0 && argc <= 3)
			return fb_time_check_cli(argv[2]);
		if (strcmp(argv[1], "--version") == 0) {
			printf("haven-firstboot %s\n", HAVEN_VERSION);
			return 0;
		}
		usage();
	}
	printf("%s: starting on %s\n", FB_TITLE, fbs.tty);
	fflush(stdout);
	if (fb_done_exists(&fbs)) {
		done = fb_path(&fbs, "/var/lib/haven/firstboot.done");
		printf("%s: already done (%s exists); nothing to do.\n",
		    FB_TITLE, done);
		free(done);
		return 0;
	}
	signal(SIGTERM, fb_signal);
	signal(SIGHUP, fb_signal);
	signal(SIGINT, fb_signal);
	signal(SIGPIPE, SIG_IGN);

	newtInit();
	newtCls();
	newtDrawRootText(1, 0, FB_TITLE " " HAVEN_VERSION);
	newtPushHelpLine(" <Tab> next field | <Space> select | <Enter> "
	    "press button | <F12> next screen");
	for (i = 0; i < nitems(screens);) {
		step = screens[i].fn();
		if (step == FB_BACK)
			i = i > 0 ? i - 1 : 0;
		else
			i++;
	}
	newtFinished();
	printf("%s: finished; admin URL %s\n", FB_TITLE,
	    fbs.admin_url != NULL ? fbs.admin_url : "?");
	return 0;
}
