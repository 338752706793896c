#include "drivers/volume/mount_options.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace maya::drivers {
namespace {

// How an option takes a value: never (flag), always (key=value), or either.
enum class Value { none, required, optional };

struct Known {
  std::string_view name;
  Value value = Value::none;
  std::vector<std::string_view> choices = {};  // empty: any value
};

// Options libmount and the VFS understand for every file system (mount(8)).
const std::vector<Known>& generic_options() {
  static const std::vector<Known> table = {
      {"defaults"},
      {"ro"},
      {"rw"},
      {"suid"},
      {"nosuid"},
      {"dev"},
      {"nodev"},
      {"exec"},
      {"noexec"},
      {"sync"},
      {"async"},
      {"dirsync"},
      {"mand"},
      {"nomand"},
      {"atime"},
      {"noatime"},
      {"diratime"},
      {"nodiratime"},
      {"relatime"},
      {"norelatime"},
      {"strictatime"},
      {"nostrictatime"},
      {"lazytime"},
      {"nolazytime"},
      {"iversion"},
      {"noiversion"},
      {"nosymfollow"},
      {"silent"},
      {"loud"},
      {"nofail"},
      {"context", Value::required},
      {"fscontext", Value::required},
      {"defcontext", Value::required},
      {"rootcontext", Value::required},
  };
  return table;
}

// ext4(5).
const std::vector<Known>& ext4_options() {
  static const std::vector<Known> table = {
      {"journal_dev", Value::required},
      {"journal_path", Value::required},
      {"norecovery"},
      {"noload"},
      {"data", Value::required, {"journal", "ordered", "writeback"}},
      {"commit", Value::required},
      {"orlov"},
      {"oldalloc"},
      {"user_xattr"},
      {"nouser_xattr"},
      {"acl"},
      {"noacl"},
      {"bsddf"},
      {"minixdf"},
      {"debug"},
      {"errors", Value::required, {"continue", "remount-ro", "panic"}},
      {"data_err", Value::required, {"ignore", "abort"}},
      {"grpid"},
      {"bsdgroups"},
      {"nogrpid"},
      {"sysvgroups"},
      {"resgid", Value::required},
      {"resuid", Value::required},
      {"sb", Value::required},
      {"quota"},
      {"noquota"},
      {"usrquota"},
      {"grpquota"},
      {"prjquota"},
      {"usrjquota", Value::optional},
      {"grpjquota", Value::optional},
      {"jqfmt", Value::required, {"vfsold", "vfsv0", "vfsv1"}},
      {"barrier", Value::optional, {"0", "1"}},
      {"nobarrier"},
      {"inode_readahead_blks", Value::required},
      {"stripe", Value::required},
      {"delalloc"},
      {"nodelalloc"},
      {"max_batch_time", Value::required},
      {"min_batch_time", Value::required},
      {"journal_ioprio", Value::required},
      {"auto_da_alloc", Value::optional, {"0", "1"}},
      {"noauto_da_alloc"},
      {"init_itable", Value::optional},
      {"noinit_itable"},
      {"discard"},
      {"nodiscard"},
      {"block_validity"},
      {"noblock_validity"},
      {"dioread_lock"},
      {"dioread_nolock"},
      {"max_dir_size_kb", Value::required},
      {"i_version"},
      {"nombcache"},
      {"prefetch_block_bitmaps"},
      {"no_prefetch_block_bitmaps"},
      {"dax", Value::optional, {"always", "never", "inode"}},
      {"journal_checksum"},
      {"nojournal_checksum"},
      {"journal_async_commit"},
      {"mb_optimize_scan", Value::required, {"0", "1"}},
      {"inlinecrypt"},
      {"nouid32"},
  };
  return table;
}

// xfs(5).
const std::vector<Known>& xfs_options() {
  static const std::vector<Known> table = {
      {"allocsize", Value::required},
      {"attr2"},
      {"noattr2"},
      {"dax", Value::optional, {"always", "never", "inode"}},
      {"discard"},
      {"nodiscard"},
      {"grpid"},
      {"bsdgroups"},
      {"nogrpid"},
      {"sysvgroups"},
      {"filestreams"},
      {"ikeep"},
      {"noikeep"},
      {"inode32"},
      {"inode64"},
      {"largeio"},
      {"nolargeio"},
      {"logbufs", Value::required},
      {"logbsize", Value::required},
      {"logdev", Value::required},
      {"rtdev", Value::required},
      {"noalign"},
      {"norecovery"},
      {"nouuid"},
      {"noquota"},
      {"uquota"},
      {"usrquota"},
      {"uqnoenforce"},
      {"quota"},
      {"pquota"},
      {"prjquota"},
      {"pqnoenforce"},
      {"gquota"},
      {"grpquota"},
      {"gqnoenforce"},
      {"sunit", Value::required},
      {"swidth", Value::required},
      {"swalloc"},
      {"wsync"},
  };
  return table;
}

const Known* find(const std::vector<Known>& table, std::string_view name) {
  auto it =
      std::find_if(table.begin(), table.end(), [&](const Known& k) { return k.name == name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

Result<void> check_mount_options(const std::string& fstype, const std::string& options) {
  const std::vector<Known>* own = nullptr;
  if (fstype == "ext4") own = &ext4_options();
  if (fstype == "xfs") own = &xfs_options();
  if (own == nullptr) return {};  // the file system is checked elsewhere
  std::string_view rest = options;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view option = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (option.empty()) continue;
    auto eq = option.find('=');
    std::string_view name = option.substr(0, eq);
    bool has_value = eq != std::string_view::npos;
    std::string_view value = has_value ? option.substr(eq + 1) : std::string_view();
    const std::string quoted = "\"" + std::string(option) + "\"";
    // x-* options are for userspace (fstab helpers); the kernel never sees them.
    if (name.starts_with("x-")) continue;
    const Known* known = find(generic_options(), name);
    if (known == nullptr) known = find(*own, name);
    if (known == nullptr)
      return fail("mount option " + quoted + " is not known for " + fstype + " (see mount(8) and " +
                  fstype + "(5))");
    if (known->value == Value::none && has_value)
      return fail("mount option " + quoted + " takes no value");
    if (known->value == Value::required && (!has_value || value.empty()))
      return fail("mount option " + quoted + " needs a value (" + std::string(name) + "=…)");
    if (has_value && !known->choices.empty() &&
        std::find(known->choices.begin(), known->choices.end(), value) == known->choices.end()) {
      std::string choices;
      for (auto c : known->choices) choices += (choices.empty() ? "" : ", ") + std::string(c);
      return fail("mount option " + quoted + " has an unknown value (" + std::string(name) +
                  " is one of " + choices + ")");
    }
  }
  return {};
}

}  // namespace maya::drivers
