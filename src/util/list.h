/* An intrusive, circular, doubly linked list (after libuv's uv__queue): a
 * dbc_list head, and a dbc_list node embedded in each element; the element
 * is found back with DBC_LIST_ENTRY.  Not thread-safe: the owner locks.
 *
 * A head must be initialised (dbc_list_init: empty, pointing at itself).
 * A node that is in no list is all zero (as calloc leaves it) or was
 * removed: dbc_list_linked() tells, and removing it again is a no-op. */
#ifndef DBCONN_LIST_H
#define DBCONN_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dbc_list {
    struct dbc_list *next, *prev;
} dbc_list;

#define DBC_LIST_ENTRY(node, type, field)                                       \
    ((type *)(void *)((char *)(node)-offsetof(type, field)))

static inline void dbc_list_init(dbc_list *head) {
    head->next = head->prev = head;
}

static inline bool dbc_list_empty(const dbc_list *head) {
    return head->next == head;
}

/* True while `node` is in a list. */
static inline bool dbc_list_linked(const dbc_list *node) {
    return node->next != NULL;
}

/* The first / last node, or NULL when empty. */
static inline dbc_list *dbc_list_first(const dbc_list *head) {
    return head->next == head ? NULL : head->next;
}

static inline dbc_list *dbc_list_last(const dbc_list *head) {
    return head->prev == head ? NULL : head->prev;
}

/* The node after / before `node` in the list of `head`, or NULL at the
 * end. */
static inline dbc_list *dbc_list_next(const dbc_list *head,
                                      const dbc_list *node) {
    return node->next == head ? NULL : node->next;
}

static inline dbc_list *dbc_list_prev(const dbc_list *head,
                                      const dbc_list *node) {
    return node->prev == head ? NULL : node->prev;
}

/* Inserts `node` right after `at` (a head or a node in a list). */
static inline void dbc_list_insert_after(dbc_list *at, dbc_list *node) {
    node->prev = at;
    node->next = at->next;
    at->next->prev = node;
    at->next = node;
}

static inline void dbc_list_push_front(dbc_list *head, dbc_list *node) {
    dbc_list_insert_after(head, node);
}

static inline void dbc_list_push_back(dbc_list *head, dbc_list *node) {
    dbc_list_insert_after(head->prev, node);
}

static inline void dbc_list_remove(dbc_list *node) {
    if (!node->next)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

/* Takes the first node off (NULL when empty). */
static inline dbc_list *dbc_list_pop_front(dbc_list *head) {
    dbc_list *node = dbc_list_first(head);
    if (node)
        dbc_list_remove(node);
    return node;
}

/* for (node = first; node; node = next), safe to remove `node` inside. */
#define DBC_LIST_FOREACH_SAFE(node, tmp, head)                                  \
    for ((node) = dbc_list_first(head),                                         \
        (tmp) = (node) ? dbc_list_next((head), (node)) : NULL;                  \
         (node); (node) = (tmp),                                                \
        (tmp) = (node) ? dbc_list_next((head), (node)) : NULL)

#endif
