#include "cluster/coordinator/agent_link.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cluster/frame.h"
#include "load/engine.h"

namespace loadpilot::agents {

namespace {

std::string iterations(std::uint64_t n) {
  return fmt::format("{} iteration{}", n, n == 1 ? "" : "s");
}

}  // namespace

AgentLink::AgentLink(std::size_t index, std::size_t count, load::Profile profile, bool closed_loop,
                     std::unique_ptr<Channel> channel, std::chrono::milliseconds silent_after,
                     std::function<void()> on_drained, EndOfRun end_of_run)
    : index_(index),
      count_(count),
      profile_(std::move(profile)),
      closed_loop_(closed_loop),
      channel_(std::move(channel)),
      silent_after_(silent_after),
      on_drained_(std::move(on_drained)),
      now_(std::move(end_of_run.now)),
      // A shorter --agent-lost-after shortens the wait at the end as well.
      final_wait_(std::min(end_of_run.final_wait, silent_after)) {
  channel_->open_parsed([this](std::string_view line, Frame* parsed) { handle(line, parsed); },
                        [this](std::string how) { closed(std::move(how)); });
}

AgentLink::~AgentLink() {
  {
    std::lock_guard lock(mu_);
    if (!exited_) kill_sent_ = true;
  }
  channel_->kill();
  channel_->join();
}

void AgentLink::closed(std::string how) {
  {
    std::lock_guard lock(mu_);
    if (exited_) return;
    how_ = std::move(how);
    exited_ = true;
    // One lost and never back ended, for the run, when it went silent; one
    // judged at the end, when it was judged (its books are closed).
    if (!books_closed_)
      exit_at_s_ = silent_ && lost_ ? absences_.back().lost_at_s : seconds_since_start();
    ended_early();
  }
  cv_.notify_all();
  if (on_drained_) on_drained_();
}

std::uint64_t AgentLink::in_flight_unreported() const {
  const std::uint64_t ended = reported_finished_ + reported_cut_off_;
  return reported_started_ > ended ? reported_started_ - ended : 0;
}

void AgentLink::check_silence() {
  if (!t0_ || exited_ || ended_ || kill_sent_ || silent_ || lost_) return;
  const auto now = this->now();
  const auto last = std::max(*t0_, last_frame_at_.value_or(*t0_));
  if (now - last < silent_after_) return;
  const double quiet = std::chrono::duration<double>(now - last).count();
  const double at = std::max(0.0, seconds_since_start());
  if (channel_->ends_when_silent()) {
    silent_ = true;
    fmt::print(
        stderr, "error: {} sent no report for {:.1f} s, {:.1f} s into the run; ending it{}\n",
        channel_->who(), quiet, at, stop_sent_ ? "" : " (the run goes on without its share)");
    std::fflush(stderr);
    channel_->kill();  // its close follows: it is counted as died
    return;
  }
  lost_ = true;
  absences_.push_back({at, -1});
  fmt::print(stderr,
             "error: {} sent no report for {:.1f} s, {:.1f} s into the run; marked lost{}\n",
             channel_->who(), quiet, at,
             stop_sent_ ? "" : " (the run goes on without it until it comes back)");
  std::fflush(stderr);
}

SteadyClock::time_point AgentLink::now() const { return now_ ? now_() : SteadyClock::now(); }

double AgentLink::seconds_since_start() const {
  if (!t0_) return -1;
  return std::chrono::duration<double>(now() - *t0_).count();
}

bool AgentLink::await_last_report(std::string* notice) {
  // silent_: a pipe agent silent too long is being ended already.
  if (!t0_ || exited_ || ended_ || kill_sent_ || books_closed_ || silent_) return false;
  // Its share is over at the profile's end, or at the stop sent before.
  const double over_s =
      stop_at_s_ >= 0 ? std::min(stop_at_s_, profile_.total_s()) : profile_.total_s();
  const auto over = *t0_ + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(over_s));
  const auto last = std::max(*t0_, last_frame_at_.value_or(*t0_));
  const LastReportWait wait = LastReportWait::check(now(), over, last, final_wait_);
  if (wait.state == LastReportWait::State::kRunning) return false;
  if (wait.state == LastReportWait::State::kWaiting) {
    *notice = waiting_notice(channel_->who(), wait.left_s);
    return false;
  }
  const double last_s = std::chrono::duration<double>(last - *t0_).count();
  fmt::print(stderr,
             "error: {}: its last report did not come (silent for {:.1f} s, since {:.1f} s into "
             "the run); judged lost {:.1f} s into the run\n",
             channel_->who(), wait.silent_s, last_s, std::max(0.0, seconds_since_start()));
  std::fflush(stderr);
  judge_lost(lost_ ? "" : lost_at_the_end(last_s));
  return true;
}

void AgentLink::judge_lost(std::string how) {
  // Counted as one that died: its unreported share as dropped, what it had
  // in flight as cut off (report()), whether or not the run was stopped.
  books_closed_ = true;
  early_ = true;
  silent_ = true;
  if (lost_) {
    exit_at_s_ = absences_.back().lost_at_s;  // lost earlier and never back
    return;
  }
  judged_how_ = std::move(how);
  exit_at_s_ = std::max(0.0, seconds_since_start());
  if (!channel_->ends_when_silent()) {
    lost_ = true;
    absences_.push_back({exit_at_s_, -1});
  }
}

void AgentLink::ended_early() {
  if (!t0_ || kill_sent_) return;  // not started yet (wait_ready says so), or ended by us
  const bool died = !ended_;
  if (died && !silent_) {
    fmt::print(stderr, "error: {} {} {:.1f} s into the run{}\n", channel_->who(), how_it_ended(),
               std::max(0.0, exit_at_s_),
               stop_sent_     ? ""
               : closed_loop_ ? "; the run goes on without it"
                              : "; the run goes on without its share (counted as dropped)");
    std::fflush(stderr);
  }
  early_ = books_closed_ ||
           (!stop_sent_ && (died || !fatal_.empty() || exit_at_s_ < profile_.total_s()));
}

std::string AgentLink::how_it_ended() const {
  if (!judged_how_.empty()) return judged_how_;
  if (silent_) return lost_ ? "was lost (sent no report since)" : "stopped reporting and was ended";
  return how_.empty() ? "ended" : how_;
}

void AgentLink::merge_rounds_into(std::shared_ptr<metrics::RoundAccumulator> merged) {
  std::lock_guard lock(mu_);
  merged_ = std::move(merged);
}

void AgentLink::handle(std::string_view line, Frame* parsed) {
  Frame frame;
  try {
    frame = parsed != nullptr ? std::move(*parsed) : parse_frame(line);
  } catch (const FrameError& e) {
    // Dropped whole: nothing of a frame that is not what an agent sends is
    // counted (a forged or damaged frame on a NATS subject any client can
    // publish on), and the run says so.
    std::lock_guard lock(mu_);
    if (bad_frames_++ == 0) bad_frame_ = e.what();
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (books_closed_) return;  // judged lost: nothing more is counted
    if (lost_ && !silent_) {
      lost_ = false;
      const double at = std::max(0.0, seconds_since_start());
      absences_.back().back_at_s = at;
      fmt::print(stderr, "{} is back, {:.1f} s into the run (lost for {:.1f} s)\n", channel_->who(),
                 at, at - absences_.back().lost_at_s);
      std::fflush(stderr);
    }
    if (t0_) last_frame_at_ = now();
    switch (frame.type) {
      case Frame::Type::kRound: {
        // Every round once, by its number (a NATS frame may come twice).
        if (!seen_.insert(frame.seq).second) return;
        metrics::IntervalStats& stats = frame.stats;
        reported_started_ += stats.iterations_started;
        reported_dropped_ += stats.dropped;
        reported_cut_off_ += stats.cut_off;
        for (const metrics::TaskStats& t : stats.tasks) reported_finished_ += t.iterations;
        // Merged now, on this thread, rather than when the round closes
        // (metrics/round_accumulator.h); under mu_, so that books closed
        // above take nothing more.
        if (merged_) {
          merged_->add(std::move(stats));
        } else {
          pending_.merge(stats);
        }
        in_flight_ = frame.in_flight;
        active_users_ = frame.active_users;
        connections_ = frame.connections;
        relayed_notice_ = std::move(frame.notice);
        break;
      }
      case Frame::Type::kHello:
        tasks_ = std::move(frame.tasks);
        ready_ = true;
        break;
      case Frame::Type::kEnd:
        ended_ = true;
        rounds_sent_ = frame.rounds;
        fatal_ = std::move(frame.fatal);
        blocked_ = frame.blocked;
        break;
      case Frame::Type::kFailed:
        failed_ = std::move(frame.error);
        break;
      case Frame::Type::kExit:
      case Frame::Type::kPing:
        break;  // the channel's business (NatsChannel)
    }
  }
  cv_.notify_all();
}

std::vector<std::string> AgentLink::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return ready_ || exited_ || !failed_.empty(); })) {
    throw AgentError(fmt::format("{} did not start within {:.0f} s", channel_->who(),
                                 std::chrono::duration<double>(timeout).count()));
  }
  if (!failed_.empty()) throw AgentError(fmt::format("{}: {}", channel_->who(), failed_));
  if (!ready_)
    throw AgentError(fmt::format("{} {} before the run started", channel_->who(), how_it_ended()));
  return tasks_;
}

void AgentLink::start(std::chrono::steady_clock::time_point t0) {
  {
    std::lock_guard lock(mu_);
    t0_ = t0;
  }
  channel_->go(t0);
}

void AgentLink::report(std::function<void(metrics::WorkerReport&&)> sink) {
  metrics::WorkerReport r;
  bool judged = false;
  {
    std::lock_guard lock(mu_);
    check_silence();
    judged = await_last_report(&r.notice);
    // What the coordinator service waits for, when it says: the more
    // precise of the two.
    if (!relayed_notice_.empty() && !exited_ && !books_closed_) r.notice = relayed_notice_;
    // Lost and not judged: shown while it lasts. Its share is not counted
    // as dropped yet — it may come back with every report, and a count
    // once shown (a Prometheus counter) cannot be taken back.
    if (r.notice.empty() && lost_ && !silent_ && !exited_ && !books_closed_)
      r.notice = lost_notice(channel_->who(), absences_.back().lost_at_s,
                             std::max(0.0, seconds_since_start()));
    // Gone, or judged: its books close now (its channel may close later).
    const bool gone = exited_ || books_closed_;
    r.stats = std::move(pending_);
    pending_ = metrics::IntervalStats();
    r.in_flight = gone ? 0 : in_flight_;
    r.active_users = gone ? 0 : active_users_;
    r.connections = gone ? 0 : connections_;
    if (gone && early_ && !lost_counted_) {
      // Its share of the schedule (up to the coordinator's stop, if any)
      // that it had not reported started or dropped: never started, or
      // started unseen — either way not in the results.
      lost_counted_ = true;
      if (!closed_loop_) {
        const double horizon = stop_at_s_ >= 0 ? stop_at_s_ : profile_.total_s();
        const std::uint64_t due = load::share_of(profile_.count_due_by(horizon), index_, count_);
        const std::uint64_t due_at_end =
            load::share_of(profile_.count_due_by(std::min(horizon, exit_at_s_)), index_, count_);
        const std::uint64_t accounted = reported_started_ + reported_dropped_;
        lost_dropped_ = due > accounted ? due - accounted : 0;
        // With an end frame it reported all it started.
        if (!ended_)
          lost_unreported_ =
              std::min(lost_dropped_, due_at_end > accounted ? due_at_end - accounted : 0);
        r.stats.dropped += lost_dropped_;
      }
    }
    if (gone && !ended_ && !cut_off_counted_) {
      // Died: what it had in flight at its last report never ends.
      cut_off_counted_ = true;
      lost_cut_off_ = in_flight_unreported();
      r.stats.cut_off += lost_cut_off_;
    }
  }
  if (judged) channel_->kill();  // its close follows (at once for NATS)
  sink(std::move(r));
}

void AgentLink::stop_arrivals() {
  {
    std::lock_guard lock(mu_);
    if (stop_sent_ || exited_) return;
    stop_sent_ = true;
    stop_at_s_ = std::max(0.0, seconds_since_start());
  }
  channel_->stop();
}

void AgentLink::cut_off() {
  bool unfinished = false;
  {
    std::lock_guard lock(mu_);
    // The drain is over and its end frame has not come: its books close
    // now. Lost and never back, it is counted as if it had died when it
    // went silent; one that still reported is lost as well, unless the run
    // was stopped — then the coordinator ended it, and only what it had in
    // flight is cut off.
    unfinished = t0_ && !exited_ && !ended_ && !kill_sent_ && !books_closed_ && !silent_;
    if (unfinished) {
      if (lost_ || stop_at_s_ < 0) {
        if (!lost_) {
          fmt::print(stderr,
                     "error: {}: its last report did not come by the end of the drain; judged "
                     "lost {:.1f} s into the run\n",
                     channel_->who(), std::max(0.0, seconds_since_start()));
          std::fflush(stderr);
        }
        judge_lost(lost_ ? "" : unfinished_at_the_end());
      } else {
        kill_sent_ = true;
        books_closed_ = true;
      }
    }
  }
  if (unfinished) {
    channel_->kill();  // the channel closes: closed() counts it
    return;
  }
  stop_arrivals();
}

void AgentLink::abort() {
  {
    std::lock_guard lock(mu_);
    if (!exited_ && !silent_) kill_sent_ = true;
  }
  channel_->kill();
}

void AgentLink::join() { channel_->join(); }

std::optional<AgentLink::Loss> AgentLink::loss() const {
  std::lock_guard lock(mu_);
  const bool died = exited_ && !ended_ && !kill_sent_ && t0_;
  if (!died && !early_) return std::nullopt;
  // Ended after its share with a fatal error and all of its share
  // accounted for (the coordinator service whose run reports a problem):
  // nothing was lost; problem() tells the error.
  if (ended_ && lost_counted_ && lost_dropped_ == 0 && lost_cut_off_ == 0 &&
      exit_at_s_ >= profile_.total_s())
    return std::nullopt;
  Loss loss;
  loss.agent = index_ + 1;
  loss.who = channel_->who();
  loss.pid = channel_->process_id();
  loss.how = how_it_ended();
  loss.at_s = std::max(0.0, exit_at_s_);
  loss.dropped = lost_dropped_;
  loss.unreported = lost_unreported_;
  loss.cut_off = lost_cut_off_;
  return loss;
}

std::vector<AgentLink::Absence> AgentLink::absences() const {
  std::lock_guard lock(mu_);
  return absences_;
}

std::string AgentLink::warning() const {
  if (!problem().empty()) return "";
  std::lock_guard lock(mu_);
  if (absences_.empty()) return "";
  double away = 0;
  for (const Absence& a : absences_) {
    if (a.back_at_s < 0) return "";  // still lost: a problem, not a warning
    away += a.back_at_s - a.lost_at_s;
  }
  const std::string when =
      absences_.size() == 1
          ? fmt::format("{:.1f} s into the run, for {:.1f} s", absences_[0].lost_at_s, away)
          : fmt::format("{} times from {:.1f} s into the run, for {:.1f} s in all",
                        absences_.size(), absences_[0].lost_at_s, away);
  return fmt::format(
      "{} was lost {} and came back: every round report of it arrived and its share is counted "
      "in full",
      channel_->who(), when);
}

bool AgentLink::python_blocked() const {
  std::lock_guard lock(mu_);
  return blocked_;
}

std::string AgentLink::problem() const {
  const std::optional<Loss> lost = loss();
  std::lock_guard lock(mu_);
  const std::string who = channel_->who();
  std::string cost;
  if (failed_.size() > 0 && !t0_) return who + ": " + failed_;
  if (lost) {
    cost = fmt::format("{} {} {:.1f} s into the run: {} of its share counted as dropped", who,
                       lost->how, lost->at_s, iterations(lost->dropped));
    if (lost->unreported > 0)
      cost += fmt::format(" ({} due before then, which it may have started unreported)",
                          lost->unreported);
    if (lost->cut_off > 0) cost += fmt::format(", {} in flight cut off", lost->cut_off);
  }
  // Round frames that never arrived (a NATS server that went away may
  // lose what was in flight): what they counted is missing, and the run
  // must not read as complete.
  const std::uint64_t sent =
      std::max<std::uint64_t>(rounds_sent_, seen_.empty() ? 0 : *seen_.rbegin());
  if (sent > seen_.size()) {
    const std::string gap = fmt::format(
        "{} of its {} round reports never arrived; the requests and iterations they counted "
        "are missing from the results",
        sent - seen_.size(), sent);
    cost = cost.empty() ? who + ": " + gap : cost + "; " + gap;
  }
  if (bad_frames_ > 0) {
    const std::string bad = fmt::format(
        "{} malformed frame{} dropped, nothing of {} counted; the first: {}", bad_frames_,
        bad_frames_ == 1 ? "" : "s", bad_frames_ == 1 ? "it" : "them", bad_frame_);
    cost = cost.empty() ? who + ": " + bad : cost + "; " + bad;
  }
  if (!fatal_.empty()) return who + ": " + fatal_ + (cost.empty() ? "" : "\n  " + cost);
  return cost;
}

}  // namespace loadpilot::agents
