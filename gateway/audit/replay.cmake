# `switchboard replay` (gateway/audit/replay*.{h,cc}): re-decides an audit trail's recorded
# decisions under another config. Included from gateway/CMakeLists.txt; it needs only policies/.
add_library(sb_gw_replay STATIC
  ${CMAKE_CURRENT_LIST_DIR}/replay.cc
  ${CMAKE_CURRENT_LIST_DIR}/replay_read.cc
  ${CMAKE_CURRENT_LIST_DIR}/replay_report.cc)
sb_target_defaults(sb_gw_replay)
target_link_libraries(sb_gw_replay PUBLIC sb_policies Boost::json)
