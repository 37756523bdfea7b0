// supervisor.cc
//    Runs one child walapply process per link and keeps them running.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// One thread, one loop: poll the children's output pipes (at most 200 ms,
// so a signal flag or a due restart is seen promptly), forward complete
// lines, reap exited children with waitpid(WNOHANG), start the ones whose
// backoff has passed.  A signal only sets a flag; the loop does the work.

#include "app/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace walapply::app {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kFirstBackoffS = 1.0;
constexpr double kMaxBackoffS = 30.0;
// A child that ran this long before dying starts again after the first
// backoff: it was working, so the next failure is a new incident.
constexpr double kHealthyRunS = 60.0;

volatile std::sig_atomic_t g_stop_signal = 0;  // the signal to forward
volatile std::sig_atomic_t g_hangup = 0;

void OnStop(int sig) { g_stop_signal = sig; }

Clock::time_point After(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}
void OnHangup(int) { g_hangup = 1; }

struct Child {
  const ChildSpec* spec = nullptr;
  pid_t pid = -1;
  int fd = -1;          // read end of its stdout/stderr pipe
  std::string partial;  // output after the last newline
  Clock::time_point started;
  Clock::time_point restart_at;
  double backoff_s = kFirstBackoffS;
  bool stopped_clean = false;  // exited 0 after the stop was forwarded
};

void WriteLines(Child* c, const char* data, size_t n, bool flush_partial) {
  c->partial.append(data, n);
  size_t start = 0;
  for (;;) {
    size_t nl = c->partial.find('\n', start);
    if (nl == std::string::npos) break;
    std::fprintf(stderr, "[%s] %.*s\n", c->spec->name.c_str(),
                 static_cast<int>(nl - start), c->partial.data() + start);
    start = nl + 1;
  }
  c->partial.erase(0, start);
  if (flush_partial && !c->partial.empty()) {
    std::fprintf(stderr, "[%s] %s\n", c->spec->name.c_str(),
                 c->partial.c_str());
    c->partial.clear();
  }
  std::fflush(stderr);
}

// Reads what the child wrote; at EOF closes the pipe.
void Drain(Child* c, bool until_eof) {
  char buf[8192];
  while (c->fd >= 0) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n > 0) {
      WriteLines(c, buf, static_cast<size_t>(n), false);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!until_eof) return;
      // Exited, but a grandchild could hold the pipe: never the case for
      // walapply, so a short wait for EOF is enough.
      pollfd p{c->fd, POLLIN, 0};
      if (poll(&p, 1, 1000) > 0) continue;
    }
    WriteLines(c, "", 0, true);
    close(c->fd);
    c->fd = -1;
  }
}

bool Start(const std::string& self, Child* c) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    spdlog::error("link {}: could not create a pipe: {}", c->spec->name,
                  std::strerror(errno));
    return false;
  }
  std::vector<std::string> argv_s = {self};
  argv_s.insert(argv_s.end(), c->spec->args.begin(), c->spec->args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    spdlog::error("link {}: fork failed: {}", c->spec->name,
                  std::strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    static const char msg[] =
        "walapply: could not execute the walapply binary\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  c->pid = pid;
  c->fd = fds[0];
  c->started = Clock::now();
  spdlog::info("link {}: started walapply pid {}", c->spec->name, pid);
  return true;
}

std::string Describe(int wstatus) {
  if (WIFEXITED(wstatus))
    return fmt::format("exited with status {}", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(wstatus),
                       strsignal(WTERMSIG(wstatus)));
  }
  return fmt::format("ended with wait status {}", wstatus);
}

void InstallHandlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll returns and the loop looks
  sa.sa_handler = OnStop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = OnHangup;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int Supervise(const std::string& self, const std::vector<ChildSpec>& specs) {
  InstallHandlers();
  std::vector<Child> children;
  for (const ChildSpec& s : specs) {
    Child c;
    c.spec = &s;
    children.push_back(c);
  }
  for (Child& c : children) {
    if (!Start(self, &c)) {
      c.restart_at = After(c.backoff_s);
    }
  }

  bool stopping = false;
  for (;;) {
    if (g_stop_signal != 0) {
      // Forwarded each time one arrives: a second Ctrl-C repeats it.
      int sig = g_stop_signal;
      g_stop_signal = 0;
      if (!stopping) {
        spdlog::info("{}: stopping {} link(s)", strsignal(sig),
                     children.size());
        // A link waiting for its restart has nothing to stop.
        for (Child& c : children) c.stopped_clean = c.pid < 0;
      }
      stopping = true;
      for (Child& c : children) {
        if (c.pid > 0) kill(c.pid, sig);
      }
    }
    if (g_hangup) {
      g_hangup = 0;
      for (Child& c : children) {
        if (c.pid > 0) kill(c.pid, SIGHUP);
      }
    }

    // Reap.
    for (;;) {
      int wstatus = 0;
      pid_t pid = waitpid(-1, &wstatus, WNOHANG);
      if (pid <= 0) break;
      auto it = std::find_if(children.begin(), children.end(),
                             [pid](const Child& c) { return c.pid == pid; });
      if (it == children.end()) continue;
      Child& c = *it;
      Drain(&c, true);
      c.pid = -1;
      bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
      if (stopping) {
        c.stopped_clean = clean;
        if (clean) {
          spdlog::info("link {}: stopped", c.spec->name);
        } else {
          spdlog::error("link {}: walapply {} while stopping", c.spec->name,
                        Describe(wstatus));
        }
        continue;
      }
      double ran =
          std::chrono::duration<double>(Clock::now() - c.started).count();
      if (ran >= kHealthyRunS) c.backoff_s = kFirstBackoffS;
      spdlog::warn("link {}: walapply pid {} {}; restarting in {:.0f} s",
                   c.spec->name, pid, Describe(wstatus), c.backoff_s);
      c.restart_at = After(c.backoff_s);
      c.backoff_s = std::min(c.backoff_s * 2, kMaxBackoffS);
    }

    bool running = false;
    for (const Child& c : children) running |= c.pid > 0;
    if (stopping && !running) break;

    if (!stopping) {
      for (Child& c : children) {
        if (c.pid < 0 && Clock::now() >= c.restart_at && !Start(self, &c)) {
          c.restart_at = After(c.backoff_s);
          c.backoff_s = std::min(c.backoff_s * 2, kMaxBackoffS);
        }
      }
    }

    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    for (Child& c : children) {
      if (c.fd >= 0) {
        fds.push_back(pollfd{c.fd, POLLIN, 0});
        owners.push_back(&c);
      }
    }
    int n = poll(fds.data(), fds.size(), 200);
    if (n > 0) {
      for (size_t i = 0; i < fds.size(); i++) {
        if (fds[i].revents != 0) Drain(owners[i], false);
      }
    }
  }

  bool all_clean = true;
  for (const Child& c : children) all_clean &= c.stopped_clean;
  spdlog::info("all links stopped{}", all_clean ? "" : " (some not cleanly)");
  return all_clean ? 0 : 1;
}

}  // namespace walapply::app
