/*
 * citus_views.c
 *		UPDATE and DELETE through the API views on a Citus coordinator
 *		(docs/scaling.md, "PATCH and DELETE through the views").
 *
 * An UPDATE or DELETE of a view with INSTEAD OF triggers reads the view's
 * rows as a subquery (the rows the triggers get as OLD) and hands each to
 * the trigger.  Citus cannot plan that statement once the subquery reads a
 * distributed table: it takes the view for the table to route to
 * (ErrorIfQueryHasUnroutableModifyingCTE: "relation tasks is not
 * distributed"; outside a CTE, a task for "shard 0").  So, on a node that
 * preloads Citus before task_api, a planner hook rewrites that one
 * statement shape before Citus sees it: the view's row source becomes a call
 * of task_api.citus_view_rows(), which runs the same subquery (deparsed,
 * with the statement's conditions on the view's columns pushed into it and
 * its parameters passed as values) as a query of its own, which Citus plans
 * and routes like any SELECT of the view, with the caller's row-level
 * security.  The statement itself then reads no Citus table and PostgreSQL
 * plans it alone; the INSTEAD OF triggers' own statements go to Citus as
 * before.  A server that does not preload Citus never installs the hook.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "citus.h"

static planner_hook_type prev_planner_hook = NULL;

/* The parameters of the pushed conditions, renumbered for the inner query. */
typedef struct ParamMap
{
	List	   *outer;			/* the statement's Params, in inner order */
} ParamMap;

/*
 * A condition of the statement that may go into the view's subquery: it
 * reads only the view's row source (rti) and parameters of the statement,
 * and nothing volatile.
 */
typedef struct PushCheck
{
	Index		rti;
	bool		ok;
} PushCheck;

static bool
pushable_walker(Node *node, PushCheck *check)
{
	if (node == NULL || !check->ok)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varlevelsup != 0 || var->varno != (int) check->rti || var->varattno <= 0)
			check->ok = false;
		return false;
	}
	if (IsA(node, Param) && ((Param *) node)->paramkind != PARAM_EXTERN)
		check->ok = false;
	if (IsA(node, SubLink) || IsA(node, SubPlan) || IsA(node, Aggref) ||
		IsA(node, WindowFunc) || IsA(node, PlaceHolderVar))
		check->ok = false;
	return expression_tree_walker(node, pushable_walker, check);
}

static bool
pushable(Node *qual, Index rti)
{
	PushCheck	check = {rti, true};

	pushable_walker(qual, &check);
	return check.ok && !contain_volatile_functions(qual);
}

/* $n of the statement becomes ($k::text)::type of the inner query. */
static Node *
param_mutator(Node *node, ParamMap *map)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param))
	{
		Param	   *outer = (Param *) node;
		Param	   *inner = makeNode(Param);
		int			k = 0;
		ListCell   *lc;
		CoerceViaIO *cast;

		foreach(lc, map->outer)
		{
			k++;
			if (((Param *) lfirst(lc))->paramid == outer->paramid)
				break;
		}
		if (lc == NULL)
		{
			map->outer = lappend(map->outer, outer);
			k = list_length(map->outer);
		}
		inner->paramkind = PARAM_EXTERN;
		inner->paramid = k;
		inner->paramtype = TEXTOID;
		inner->paramtypmod = -1;
		inner->paramcollid = DEFAULT_COLLATION_OID;
		inner->location = -1;
		if (outer->paramtype == TEXTOID)
			return (Node *) inner;
		cast = makeNode(CoerceViaIO);
		cast->arg = (Expr *) inner;
		cast->resulttype = outer->paramtype;
		cast->resultcollid = outer->paramcollid;
		cast->coerceformat = COERCE_EXPLICIT_CAST;
		cast->location = -1;
		return (Node *) cast;
	}
	return expression_tree_mutator(node, param_mutator, map);
}

/* A subquery whose WHERE may take more conditions without changing its rows. */
static bool
simple_subquery(Query *sub)
{
	return sub->setOperations == NULL && sub->groupClause == NIL && sub->havingQual == NULL &&
		sub->distinctClause == NIL && sub->limitCount == NULL && sub->limitOffset == NULL &&
		!sub->hasAggs && !sub->hasWindowFuncs && !sub->hasTargetSRFs && sub->groupingSets == NIL;
}

/*
 * Copy into sub each condition of the statement on the view's columns, the
 * columns replaced by their expressions in sub; the statement keeps its
 * conditions (evaluated again on the rows: the same answer).
 */
static void
push_quals(Query *stmt, Index rti, Query *sub, ParamMap *map)
{
	ListCell   *lc;

	if (!simple_subquery(sub))
		return;
	foreach(lc, make_ands_implicit((Expr *) stmt->jointree->quals))
	{
		Node	   *qual = (Node *) lfirst(lc);

		if (!pushable(qual, rti))
			continue;
		qual = ReplaceVarsFromTargetList(copyObject(qual), rti, 0, rt_fetch(rti, stmt->rtable),
										 sub->targetList, REPLACEVARS_REPORT_ERROR, 0, NULL);
		qual = param_mutator(qual, map);
		sub->jointree->quals = make_and_qual(sub->jointree->quals, qual);
	}
}

static bool
reads_citus_table_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		return rte->rtekind == RTE_RELATION && ta_citus_table(rte->relid);
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, reads_citus_table_walker, context,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, reads_citus_table_walker, context);
}

/*
 * The row source of an UPDATE or DELETE of a view with INSTEAD OF
 * triggers: the range table index of the subquery the "wholerow" junk
 * column (the OLD row the triggers get) reads, or 0.
 */
static Index
view_row_source(Query *stmt)
{
	ListCell   *lc;

	if ((stmt->commandType != CMD_UPDATE && stmt->commandType != CMD_DELETE) ||
		stmt->resultRelation <= 0 ||
		rt_fetch(stmt->resultRelation, stmt->rtable)->relkind != RELKIND_VIEW)
		return 0;
	foreach(lc, stmt->targetList)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);

		if (tle->resjunk && tle->resname != NULL && strcmp(tle->resname, "wholerow") == 0 &&
			IsA(tle->expr, Var) && ((Var *) tle->expr)->varattno == 0 &&
			((Var *) tle->expr)->varlevelsup == 0)
		{
			Index		rti = ((Var *) tle->expr)->varno;

			if (rt_fetch(rti, stmt->rtable)->rtekind == RTE_SUBQUERY)
				return rti;
		}
	}
	return 0;
}

static Oid
view_rows_function(void)
{
	Oid			nsp = get_namespace_oid("task_api", true);
	Oid			argtypes[2] = {TEXTOID, TEXTARRAYOID};

	if (!OidIsValid(nsp))
		return InvalidOid;
	return LookupFuncName(list_make2(makeString("task_api"), makeString("citus_view_rows")),
						  2, argtypes, true);
}

/* The subquery as SQL text with every name qualified (no search_path). */
static char *
deparse(Query *sub)
{
	OverrideSearchPath *path = GetOverrideSearchPath(CurrentMemoryContext);
	char	   *volatile sql = NULL;

	path->schemas = NIL;
	path->addCatalog = true;
	path->addTemp = false;
	PushOverrideSearchPath(path);
	PG_TRY();
	{
		sql = pg_get_querydef(sub, false);
	}
	PG_FINALLY();
	{
		PopOverrideSearchPath();
	}
	PG_END_TRY();
	return sql;
}

/* The statement's Params, as text, for task_api.citus_view_rows(). */
static Node *
params_as_text(List *params)
{
	ArrayExpr  *arr = makeNode(ArrayExpr);
	ListCell   *lc;

	arr->array_typeid = TEXTARRAYOID;
	arr->element_typeid = TEXTOID;
	arr->multidims = false;
	arr->location = -1;
	foreach(lc, params)
	{
		Param	   *p = (Param *) copyObject(lfirst(lc));
		CoerceViaIO *cast;

		if (p->paramtype == TEXTOID)
		{
			arr->elements = lappend(arr->elements, p);
			continue;
		}
		cast = makeNode(CoerceViaIO);
		cast->arg = (Expr *) p;
		cast->resulttype = TEXTOID;
		cast->resultcollid = DEFAULT_COLLATION_OID;
		cast->coerceformat = COERCE_EXPLICIT_CAST;
		cast->location = -1;
		arr->elements = lappend(arr->elements, cast);
	}
	return (Node *) arr;
}

/* The row source rte (a subquery) becomes task_api.citus_view_rows(sql, params). */
static void
replace_row_source(RangeTblEntry *rte, Query *sub, Oid fn, List *params)
{
	RangeTblFunction *rtf = makeNode(RangeTblFunction);
	FuncExpr   *call;
	ListCell   *lc;
	char	   *sql = deparse(sub);

	call = makeFuncExpr(fn, RECORDOID,
						list_make2(makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
											 CStringGetTextDatum(sql), false, false),
								   params_as_text(params)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	call->funcretset = true;
	rtf->funcexpr = (Node *) call;
	foreach(lc, sub->targetList)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);

		if (tle->resjunk)
			continue;
		rtf->funccolnames = lappend(rtf->funccolnames, makeString(pstrdup(tle->resname ? tle->resname : "?column?")));
		rtf->funccoltypes = lappend_oid(rtf->funccoltypes, exprType((Node *) tle->expr));
		rtf->funccoltypmods = lappend_int(rtf->funccoltypmods, exprTypmod((Node *) tle->expr));
		rtf->funccolcollations = lappend_oid(rtf->funccolcollations, exprCollation((Node *) tle->expr));
		rtf->funccolcount++;
	}
	rte->rtekind = RTE_FUNCTION;
	rte->functions = list_make1(rtf);
	rte->funcordinality = false;
	rte->subquery = NULL;
	rte->security_barrier = false;
}

/* Rewrite stmt if it is the statement shape Citus cannot plan. */
static void
rewrite_view_write(Query *stmt)
{
	Index		rti = view_row_source(stmt);
	RangeTblEntry *rte;
	Query	   *sub;
	ParamMap	map = {NIL};
	Oid			fn;

	if (rti == 0)
		return;
	rte = rt_fetch(rti, stmt->rtable);
	if (!reads_citus_table_walker((Node *) rte->subquery, NULL) ||
		!OidIsValid(fn = view_rows_function()))
		return;
	sub = copyObject(rte->subquery);
	/* A security-barrier view's own conditions come first: nothing is pushed. */
	if (!rte->security_barrier)
		push_quals(stmt, rti, sub, &map);
	replace_row_source(rte, sub, fn, map.outer);
}

static PlannedStmt *
citus_views_planner(Query *parse, const char *query_string, int cursorOptions,
					ParamListInfo boundParams)
{
	if (parse->commandType == CMD_UPDATE || parse->commandType == CMD_DELETE)
		rewrite_view_write(parse);
	else if (parse->hasModifyingCTE)
	{
		ListCell   *lc;

		foreach(lc, parse->cteList)
		{
			CommonTableExpr *cte = (CommonTableExpr *) lfirst(lc);

			if (IsA(cte->ctequery, Query))
				rewrite_view_write((Query *) cte->ctequery);
		}
	}
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

void
ta_citus_views_init(void)
{
	/*
	 * Only where Citus is preloaded before task_api (its settings exist by
	 * now): the hook then runs before Citus's planner.
	 */
	if (!process_shared_preload_libraries_in_progress ||
		GetConfigOption("citus.max_worker_nodes_tracked", true, false) == NULL)
		return;
	ta_citus_preloaded = true;
	prev_planner_hook = planner_hook;
	planner_hook = citus_views_planner;
}

PG_FUNCTION_INFO_V1(ta_citus_view_rows);

/*
 * task_api.citus_view_rows(sql, params): the rows of one read-only query
 * (the deparsed row source above), $1..$n being params, as the caller.
 */
Datum
ta_citus_view_rows(PG_FUNCTION_ARGS)
{
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *values;
	bool	   *isnull;
	int			n;
	Oid		   *argtypes;
	char	   *nulls;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &values, &isnull, &n);
	argtypes = palloc(sizeof(Oid) * (n + 1));
	nulls = palloc(n + 1);
	for (int i = 0; i < n; i++)
	{
		argtypes[i] = TEXTOID;
		nulls[i] = isnull[i] ? 'n' : ' ';
	}
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	/* Read-only: a query that writes is refused. */
	if (SPI_execute_with_args(sql, n, argtypes, values, nulls, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("citus_view_rows runs one SELECT")));
	if (SPI_tuptable->tupdesc->natts != rsinfo->setDesc->natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("citus_view_rows: the query returns %d columns, the call expects %d",
						SPI_tuptable->tupdesc->natts, rsinfo->setDesc->natts)));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum	   *row = palloc(sizeof(Datum) * rsinfo->setDesc->natts);
		bool	   *rownulls = palloc(sizeof(bool) * rsinfo->setDesc->natts);

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, row, rownulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
	SPI_finish();
	return (Datum) 0;
}
